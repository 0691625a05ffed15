// pnpm --filter @ddia/testkit bench:porcupine [--quick] [--timeout-ms N] [--operations N]
//   [--rounds N] [--repeat N] [--min-ms N] [--only REGEX] [--json FILE]
// Our linearizability checker and Porcupine on the same histories, in the same run:
// the Jepsen etcd logs and kv histories in ../shared/data/histories (Porcupine's own test data),
// and seeded 50-client kv histories (generate-kv.ts) with a stale-read and a lost-write bad twin.
// Each history goes to Porcupine as the operations our parser read (failed operations dropped,
// unknown outcomes returning after everything), so both decide the same question; the times
// are each checker's own (files are read and parsed before the clock starts; a history decided
// within a second is checked --repeat times per round by each and the fastest kept). Rounds
// alternate which side runs first. Memory: ours reports its search tables' bytes per history and
// the process's RSS and heap; the driver reports the bytes each check allocated and its peak RSS.
// Porcupine runs as a driver binary built by hand from bench/porcupine/main.go (our code, which
// calls Porcupine's API) against a checkout of Porcupine. The repository ships no copy of
// Porcupine: pass a checkout with --porcupine DIR (or $PORCUPINE_SRC) and the bench builds the
// driver with Go (Debian's golang-go) offline; or pass a prebuilt driver with --porcupine-bin FILE.
// Without either, the bench says why and measures our side only.

import { spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  casArgument,
  checkLinearizable,
  createCasRegisterModel,
  createKvModel,
  generateKvHistory,
  type HistoryEvent,
  type KvFault,
  parseJepsenEdn,
  parseJepsenLog,
  toOperations,
} from '../src/index.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean' },
    smoke: { type: 'boolean' },
    json: { type: 'string' },
    porcupine: { type: 'string' },
    'porcupine-bin': { type: 'string' },
    'timeout-ms': { type: 'string' },
    operations: { type: 'string' },
    rounds: { type: 'string' },
    repeat: { type: 'string' },
    'min-ms': { type: 'string' },
    only: { type: 'string' },
  },
});
const smoke = values.smoke === true;
const quick = values.quick === true || smoke;
const timeoutMs = Number(values['timeout-ms'] ?? 10_000);
const shared = fileURLToPath(new URL('../../../../shared/data/histories/', import.meta.url));

interface Case {
  name: string;
  model: 'kv' | 'register';
  events: HistoryEvent[];
}

/**
 * A history decided within a second is checked this many times per round by each side and the
 * fastest time kept: a sub-millisecond check is otherwise mostly scheduling noise on a loaded
 * machine.
 */
const repeat = Number(values.repeat ?? (quick ? 3 : 10));
/**
 * With --min-ms, a history decided within a second is also checked again until that many
 * milliseconds of checks have run (at least --repeat times, at most RUNS_MAX), on both sides, as
 * Go's testing.B runs a benchmark until it has taken long enough: a check of a few dozen
 * microseconds is otherwise timed before the JIT has compiled our search, while Porcupine is
 * compiled ahead of time.
 */
const minMs = Number(values['min-ms'] ?? 0);
const RUNS_MAX = 100_000;
/** Rounds over the whole set; odd rounds run Porcupine first, even ones ours. */
const rounds = Number(values.rounds ?? (quick ? 1 : 2));
const dir = mkdtempSync(join(tmpdir(), 'ddia-porcupine-'));
const source = porcupineSource(dir);

const cases: Case[] = [];
if (existsSync(shared)) {
  const etcd = readdirSync(join(shared, 'jepsen-etcd')).filter((f) => f.endsWith('.log'));
  for (const f of smoke ? etcd.slice(0, 2) : quick ? etcd.slice(0, 10) : etcd) {
    const events = parseJepsenLog(readFileSync(join(shared, 'jepsen-etcd', f), 'utf8'));
    cases.push({ name: `etcd/${f}`, model: 'register', events });
  }
  const kv = readdirSync(join(shared, 'kv')).filter((name) => name.endsWith('.txt'));
  for (const f of smoke ? kv.filter((name) => name.startsWith('c10')) : kv) {
    cases.push({
      name: `kv/${f}`,
      model: 'kv',
      events: parseJepsenEdn(readFileSync(join(shared, 'kv', f), 'utf8')),
    });
  }
} else {
  console.log(`(shared histories not found at ${shared}: generated histories only)`);
}
// Porcupine's largest kv test histories (50 clients) come with its source: read, never copied.
if (source !== undefined && !smoke) {
  for (const f of ['c50-ok.txt', 'c50-bad.txt']) {
    const file = join(source, 'test_data', 'kv', f);
    if (existsSync(file)) {
      cases.push({
        name: `kv/${f} (Porcupine's)`,
        model: 'kv',
        events: parseJepsenEdn(readFileSync(file, 'utf8')),
      });
    }
  }
}
/** Operations per generated history (events: twice as many). */
const operations = Number(values.operations ?? (quick ? 2_000 : 10_000));
for (const seed of quick ? [1] : [1, 2, 3]) {
  for (const fault of (smoke ? ['stale-read'] : ['stale-read', 'lost-write']) as KvFault[]) {
    const g = generateKvHistory({ seed, clients: 50, keys: 10, operations }, fault);
    if (fault === 'stale-read') cases.push({ name: `c50 seed ${seed} ok`, model: 'kv', events: g.good });
    if (g.bad !== undefined) cases.push({ name: `c50 seed ${seed} ${fault}`, model: 'kv', events: g.bad });
  }
}
// Fewer keys, more contention per key: 50 clients on 5 keys (Porcupine's c50 shape).
if (!smoke) {
  for (const fault of ['stale-read', 'lost-write'] as KvFault[]) {
    const g = generateKvHistory({ seed: 1, clients: 50, keys: 5, operations }, fault);
    if (fault === 'stale-read') cases.push({ name: 'c50 5 keys seed 1 ok', model: 'kv', events: g.good });
    if (g.bad !== undefined) cases.push({ name: `c50 5 keys seed 1 ${fault}`, model: 'kv', events: g.bad });
  }
}

if (values.only !== undefined) {
  const only = new RegExp(values.only);
  cases.splice(0, cases.length, ...cases.filter((c) => only.test(c.name)));
}

/** The history as Porcupine events: call and return per operation, unknown outcomes at the end. */
function porcupineEvents(c: Case): object[] {
  const ops = toOperations(c.events).filter(
    (op) => op.status !== 'fail' && !(op.status === 'info' && (op.f === 'get' || op.f === 'read')),
  );
  const out: { at: number; e: object }[] = [];
  for (const op of ops) {
    const cas = op.f === 'cas' ? casArgument(op.input) : undefined;
    const call =
      c.model === 'kv'
        ? { f: op.f, key: op.key ?? '', value: op.f === 'get' ? '' : String(op.input) }
        : { f: op.f, from: cas?.from ?? op.input ?? 0, to: cas?.to ?? 0 };
    out.push({ at: op.invokeIndex, e: { call: true, id: op.id, client: op.process, ...call } });
    const unknown = op.status === 'info';
    const ret =
      c.model === 'kv'
        ? { value: op.f === 'get' && !unknown ? String(op.output) : '', unknown }
        : {
            ok: op.status === 'ok',
            exists: op.output !== null && op.output !== undefined,
            int: typeof op.output === 'number' ? op.output : 0,
            unknown,
          };
    out.push({
      at: unknown ? Number.MAX_SAFE_INTEGER - ops.length + op.id : op.completeIndex,
      e: { call: false, id: op.id, client: op.process, ...ret },
    });
  }
  return out.sort((a, b) => a.at - b.at).map((x) => x.e);
}

/**
 * Porcupine's source: --porcupine DIR or $PORCUPINE_SRC, a checkout of
 * github.com/anishathalye/porcupine (its files, or a bare git directory of it, read with
 * `git archive HEAD`). The repository ships no copy of it.
 */
function porcupineSource(dir: string): string | undefined {
  const given = values.porcupine ?? process.env.PORCUPINE_SRC;
  if (given === undefined || given === '') return undefined;
  if (existsSync(join(given, 'checker.go'))) return given;
  if (existsSync(join(given, 'objects')) && existsSync(join(given, 'HEAD'))) {
    const out = join(dir, 'porcupine-src');
    mkdirSync(out);
    const archive = spawnSync('git', ['--git-dir', given, 'archive', 'HEAD'], { maxBuffer: 1 << 28 });
    const untar = spawnSync('tar', ['-x', '-C', out], { input: archive.stdout });
    if (archive.status === 0 && untar.status === 0 && existsSync(join(out, 'checker.go'))) return out;
  }
  return undefined;
}

/**
 * The driver (bench/porcupine/main.go linked with Porcupine): --porcupine-bin FILE or
 * $PORCUPINE_BIN when given; otherwise built here with Go from the Porcupine checkout
 * (--porcupine DIR) into a module whose go.mod points at that checkout, offline (GOPROXY=off:
 * Porcupine needs nothing beyond Go's standard library). Skipped, saying why, without either.
 */
function porcupineBinary(): string | undefined {
  const path = values['porcupine-bin'] ?? process.env.PORCUPINE_BIN;
  if (path === undefined || path === '') return buildPorcupineDriver();
  if (spawnSync(path, ['-h'], { encoding: 'utf8' }).error !== undefined) {
    console.log(`Porcupine: skipped, ${path} does not run`);
    return undefined;
  }
  console.log(`Porcupine: ${path}`);
  return path;
}

function buildPorcupineDriver(): string | undefined {
  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error !== undefined || go.status !== 0) {
    console.log(
      'Porcupine: skipped, no Go toolchain to build its driver (apt-get install golang-go, or pass a ' +
        'prebuilt one with --porcupine-bin FILE)',
    );
    return undefined;
  }
  if (source === undefined) {
    console.log(
      'Porcupine: skipped, no Porcupine source to build against (pass a checkout of ' +
        'github.com/anishathalye/porcupine with --porcupine DIR or PORCUPINE_SRC)',
    );
    return undefined;
  }
  const module = join(dir, 'driver');
  mkdirSync(module);
  writeFileSync(join(module, 'main.go'), readFileSync(new URL('./porcupine/main.go', import.meta.url)));
  writeFileSync(
    join(module, 'go.mod'),
    'module porcupinebench\n\ngo 1.18\n\nrequire github.com/anishathalye/porcupine v0.0.0\n\n' +
      `replace github.com/anishathalye/porcupine => ${source}\n`,
  );
  const binary = join(dir, 'porcupinebench');
  const build = spawnSync('go', ['build', '-o', binary, '.'], {
    cwd: module,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod', GOPROXY: 'off', GOCACHE: join(dir, 'gocache') },
  });
  if (build.status !== 0) {
    console.log(`Porcupine: skipped, building its driver failed (${go.stdout.trim()}):\n${build.stderr}`);
    return undefined;
  }
  console.log(`Porcupine: built ${binary} with ${go.stdout.trim()} against ${source}`);
  return binary;
}

/** One side's figures for one history: the best time over rounds and repeats, and memory. */
interface Side {
  verdict: string;
  ms: number;
  /** Ours: the search's memo and state tables; Porcupine: bytes its check allocated. */
  bytes: number;
  /** The process's resident set after the check (ours) or its peak so far (Porcupine), in MiB. */
  rssMiB: number;
}

function keepBest(map: Map<number, Side>, i: number, side: Side): void {
  const old = map.get(i);
  const bytes = Math.max(side.bytes, old?.bytes ?? 0);
  map.set(i, old === undefined || side.ms < old.ms ? { ...side, bytes } : { ...old, bytes });
}

const MiB = 1024 * 1024;

/** Our side of one round: every history, the fastest of `repeat` runs for those under a second. */
function oursRound(best: Map<number, Side>): void {
  cases.forEach((c, i) => {
    const model = c.model === 'kv' ? createKvModel() : createCasRegisterModel();
    let result = checkLinearizable(c.events, model, { timeoutMs });
    let ms = result.elapsedMs;
    let spentMs = ms;
    for (let runs = 1; ms < 1000 && (runs < repeat || spentMs < minMs) && runs < RUNS_MAX; runs++) {
      result = checkLinearizable(c.events, model, { timeoutMs });
      ms = Math.min(ms, result.elapsedMs);
      spentMs += result.elapsedMs;
    }
    const ours = result.verdict === 'not-linearizable' ? 'NOT' : result.verdict;
    const bytes = result.partitions.reduce((sum, p) => sum + p.memoBytes, 0);
    keepBest(best, i, { verdict: ours, ms, bytes, rssMiB: process.memoryUsage.rss() / MiB });
  });
}

const VERDICT: Record<string, string> = { Ok: 'linearizable', Illegal: 'NOT', Unknown: 'unknown' };

/** Porcupine's side of one round: the driver over every file (when there is a driver). */
function porcupineRound(binary: string, files: string[], best: Map<number, Side>): void {
  const args = ['-timeout-ms', String(timeoutMs), '-repeat', String(repeat), '-min-ms', String(minMs)];
  const run = spawnSync(binary, [...args, ...files], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const index = new Map(files.map((f, i) => [f, i]));
  for (const line of run.stdout.split('\n').filter((l) => l.length > 0)) {
    const [file, verdict, ms, allocated, maxRssKiB] = line.split('\t');
    const i = index.get(file);
    if (i === undefined) continue;
    keepBest(best, i, {
      verdict: VERDICT[verdict] ?? verdict,
      ms: Number(ms),
      bytes: Number(allocated ?? 0),
      rssMiB: Number(maxRssKiB ?? 0) / 1024,
    });
  }
  if (run.status !== 0) console.log(`Porcupine exited ${run.status}: ${run.stderr}`);
}

const mib = (bytes: number) => (bytes / MiB).toFixed(1);
const fmt = (ms: number) => (ms < 10 ? ms.toFixed(3) : ms.toFixed(1));

try {
  const binary = porcupineBinary();
  // Our checker runs in a JIT: one unrelated history first, so the first timed one does not
  // pay for compiling the search (Porcupine is compiled ahead of time).
  checkLinearizable(
    generateKvHistory({ seed: 99, clients: 10, keys: 2, operations: 400 }).good,
    createKvModel(),
  );
  const files = cases.map((c, i) => {
    const file = join(dir, `h${i}.json`);
    writeFileSync(file, JSON.stringify({ model: c.model, events: porcupineEvents(c) }));
    return file;
  });
  const ours = new Map<number, Side>();
  const theirs = new Map<number, Side>();
  const loads: number[] = [loadavg()[0]];
  // Rounds alternate which side goes first, so neither always meets a cold cache or a
  // neighbour's burst first; each side keeps its fastest time per history.
  for (let round = 0; round < rounds; round++) {
    const porcupineFirst = round % 2 === 1;
    if (porcupineFirst && binary !== undefined) porcupineRound(binary, files, theirs);
    oursRound(ours);
    if (!porcupineFirst && binary !== undefined) porcupineRound(binary, files, theirs);
    loads.push(loadavg()[0]);
    console.log(
      `round ${round + 1}/${rounds} (${porcupineFirst ? 'Porcupine' : 'ours'} first), load average ${loadavg()[0].toFixed(1)}`,
    );
  }
  const meanLoad = loads.reduce((a, b) => a + b, 0) / loads.length;
  console.log(
    `\nbudget ${timeoutMs} ms per history; ${rounds} round(s), fastest of ${repeat} runs${minMs > 0 ? ` (or of ${minMs} ms of runs)` : ''} per round for histories under 1 s; ` +
      `load average ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} (measured under load)\n`,
  );
  console.log(
    '| history | events | ours | ours ms | ours memo MiB | Porcupine | Porcupine ms | Porcupine alloc MiB | ours / Porcupine |',
  );
  console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- |');
  let oursTotal = 0;
  let theirsTotal = 0;
  let disagreements = 0;
  let slower = 0;
  const rows: object[] = [];
  cases.forEach((c, i) => {
    const o = ours.get(i)!;
    const t = theirs.get(i);
    if (t !== undefined && o.verdict !== t.verdict && o.verdict !== 'unknown' && t.verdict !== 'unknown') {
      disagreements++;
    }
    // Both unknown: each spent its budget, no ratio to speak of.
    const comparable = t !== undefined && !(o.verdict === 'unknown' && t.verdict === 'unknown');
    const ratio = comparable ? o.ms / Math.max(t.ms, 0.001) : undefined;
    if (ratio !== undefined && ratio > 1) slower++;
    rows.push({
      history: c.name,
      events: c.events.length,
      ours: o.verdict,
      oursMs: Number(o.ms.toFixed(3)),
      oursMemoBytes: o.bytes,
      oursRssMiB: Number(o.rssMiB.toFixed(1)),
      porcupine: t?.verdict ?? null,
      porcupineMs: t === undefined ? null : Number(t.ms.toFixed(3)),
      porcupineAllocBytes: t?.bytes ?? null,
      porcupineMaxRssMiB: t === undefined ? null : Number(t.rssMiB.toFixed(1)),
      ratio: ratio === undefined ? null : Number(ratio.toFixed(3)),
    });
    oursTotal += o.ms;
    theirsTotal += t?.ms ?? 0;
    console.log(
      `| ${c.name} | ${c.events.length} | ${o.verdict} | ${fmt(o.ms)} | ${mib(o.bytes)} | ${t?.verdict ?? '-'} | ${t === undefined ? '-' : fmt(t.ms)} | ${t === undefined ? '-' : mib(t.bytes)} | ${ratio === undefined ? '-' : `${ratio.toFixed(2)}x`} |`,
    );
  });
  const memory = process.memoryUsage();
  const theirRss = Math.max(0, ...[...theirs.values()].map((t) => t.rssMiB));
  console.log(
    `\ntotal: ours ${oursTotal.toFixed(0)} ms${theirs.size > 0 ? `, Porcupine ${theirsTotal.toFixed(0)} ms, ratio ${(oursTotal / Math.max(theirsTotal, 0.1)).toFixed(2)}x, ours slower on ${slower} of ${cases.length}` : ''}; ${cases.length} histories${theirs.size > 0 ? `, ${disagreements} verdicts disagree` : ''}`,
  );
  console.log(
    `memory: ours RSS ${mib(memory.rss)} MiB, heap ${mib(memory.heapUsed)} of ${mib(memory.heapTotal)} MiB, typed arrays ${mib(memory.arrayBuffers)} MiB${theirs.size > 0 ? `; Porcupine's driver peak RSS ${theirRss.toFixed(1)} MiB` : ''}`,
  );
  if (values.json !== undefined) {
    const summary = {
      date: new Date().toISOString(),
      loadAverage: Number(meanLoad.toFixed(2)),
      loadAverages: loads.map((l) => Number(l.toFixed(2))),
      note: 'measured under load: a 2-core machine shared with other jobs',
      budgetMs: timeoutMs,
      rounds,
      repeat,
      minMs,
      porcupine: binary ?? null,
      oursMs: Math.round(oursTotal),
      porcupineMs: theirs.size > 0 ? Math.round(theirsTotal) : null,
      ratio: theirs.size > 0 ? Number((oursTotal / Math.max(theirsTotal, 0.1)).toFixed(3)) : null,
      oursSlowerOn: theirs.size > 0 ? slower : null,
      disagreements,
      oursRssMiB: Number(mib(memory.rss)),
      oursHeapUsedMiB: Number(mib(memory.heapUsed)),
      porcupineMaxRssMiB: theirs.size > 0 ? theirRss : null,
      rows,
    };
    writeFileSync(values.json, `${JSON.stringify(summary, null, 1)}\n`);
  }
  if (disagreements > 0) process.exitCode = 1;
} finally {
  rmSync(dir, { recursive: true, force: true });
}
