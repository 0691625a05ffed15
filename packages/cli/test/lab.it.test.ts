// The `ddia` command and `pnpm start` as a user runs them: real processes, a temp lab home,
// ports shifted by DDIA_PORT_OFFSET, every child gone at the end. One full lab serves most of the
// tests (it is the expensive part: every chapter's service), in the order a learner would go.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CommandOutput } from '@ddia/common';
import { isProcessAlive as alive } from '@ddia/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runReporting } from '../src/cli.js';
import { TOPOLOGY } from '../src/topology.js';
import {
  ddia as ddiaIn,
  eventually,
  type Lab,
  readState,
  root,
  startLab,
  stopLab,
} from './support/lab-process.js';

/** This file's band of port offsets (startLab tries 4 offsets 1000 apart). */
const BAND = 10_000;
const kvBuilt = existsSync(join(root, 'packages/kv-store/dist/main.js'));
const lsmBuilt = existsSync(join(root, 'packages/lsm-engine/dist/main.js'));
const clusterTool = join(root, 'packages/streaming/dist/tools/cluster-tool.js');
/** Broker k of the lab's streaming cluster speaks Kafka on 9092 + k - 1 (+ the port offset). */
const KAFKA_PORT = 9092;
const CHROMIUM = '/usr/bin/chromium';
const artifacts = join(root, 'packages/cli/test/artifacts');

/** `ddia` in this process (no process start-up per call): exit code and what it printed. */
async function ddiaHere(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CommandOutput = {
    out: (line) => (out += `${line}\n`),
    err: (line) => (err += `${line}\n`),
    stdout: { write: (text: string) => (out += text) },
    stderr: { write: (text: string) => (err += text) },
  };
  const code = await runReporting(args, io);
  return { code, out, err };
}

describe('ddia: errors a user can fix', () => {
  const home = mkdtempSync(join(tmpdir(), 'ddia-home-'));
  beforeAll(() => {
    process.env.DDIA_HOME = home;
    process.env.DDIA_PORT_OFFSET = String(BAND + 5_000);
  });
  afterAll(() => {
    delete process.env.DDIA_HOME;
    delete process.env.DDIA_PORT_OFFSET;
    rmSync(home, { recursive: true, force: true });
  });

  it('names an unknown command, service, node or bad flag and exits 2', async () => {
    expect(await ddiaHere('frobnicate')).toMatchObject({ code: 2 });
    const unknownService = await ddiaHere('up', 'nosuch');
    expect(unknownService.code).toBe(2);
    expect(unknownService.err).toContain("unknown service 'nosuch'");
    const unknownNode = await ddiaHere('kill', 'zz-n9');
    expect(unknownNode.code).toBe(2);
    expect(unknownNode.err).toContain("unknown node 'zz-n9'");
    expect(await ddiaHere('up', 'kv', '--nodes', 'many')).toMatchObject({ code: 2 });
    expect((await ddiaHere('up', 'kv', '--nodes', '9')).err).toContain('runs 1 to 5 nodes');
    expect((await ddiaHere('start', '--only', 'kv,nosuch')).err).toContain("unknown service 'nosuch'");
  });

  it("answers every misuse of a subcommand with exit 2 and that subcommand's usage line", async () => {
    const cases: [string[], string][] = [
      [['ps', '--bogus'], 'usage: ddia ps'],
      [['ps', 'extra'], 'usage: ddia ps'],
      [['up'], 'usage: ddia up <service> [--nodes N]'],
      [['logs', 'kv-n1', '--lines', 'x'], 'usage: ddia logs <node> [--lines N]'],
      [['latency', 'kv-n1', 'kv-n2'], 'usage: ddia latency'],
      [['latency', 'kv-n1', 'kv-n2', 'soon'], 'usage: ddia latency'],
      [['partition', 'kv-n1'], 'usage: ddia partition'],
      [['restart'], 'usage: ddia restart <node>'],
      [['kill', 'a', 'b'], 'usage: ddia kill <node>'],
      [['start', '--port', 'eighty'], 'usage: ddia start'],
      [['start', '--only', ''], 'usage: ddia start'],
      [['compose', '--nope'], 'usage: ddia compose'],
      [['demo', 'nothing'], 'usage: ddia demo transactions'],
      [['landing', 'no-equals'], 'usage: ddia landing'],
    ];
    for (const [args, usage] of cases) {
      const r = await ddiaHere(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toContain(usage);
      expect(r.out, args.join(' ')).toBe('');
    }
  });

  it('refuses a DDIA_PORT_OFFSET that is not a small whole number', async () => {
    process.env.DDIA_PORT_OFFSET = '-5';
    try {
      const r = await ddiaHere('up', 'kv');
      expect(r.code).toBe(2);
      expect(r.err).toContain('DDIA_PORT_OFFSET');
    } finally {
      process.env.DDIA_PORT_OFFSET = String(BAND + 5_000);
    }
  });

  it('clean refuses to delete a folder the lab did not make', async () => {
    const elsewhere = mkdtempSync(join(tmpdir(), 'ddia-not-a-lab-'));
    writeFileSync(join(elsewhere, 'precious.txt'), 'keep me');
    process.env.DDIA_HOME = elsewhere;
    try {
      const r = await ddiaHere('clean');
      expect(r.code).toBe(1);
      expect(r.err).toContain('precious.txt');
      expect(readFileSync(join(elsewhere, 'precious.txt'), 'utf8')).toBe('keep me');
    } finally {
      process.env.DDIA_HOME = home;
      rmSync(elsewhere, { recursive: true, force: true });
    }
  });

  it('the installed command prints usage, and a usage error exits 2', () => {
    const env = { ...process.env, DDIA_HOME: home };
    const help = ddiaIn(env, 'help');
    expect(help.code).toBe(0);
    expect(help.out).toContain('ddia up <service>');
    expect(help.out).toContain('DDIA_PORT_OFFSET');
    const bad = ddiaIn(env, 'up', 'nosuch');
    expect(bad.code).toBe(2);
    expect(bad.err).toContain("ddia: unknown service 'nosuch'");
  });
});

interface ApiStatus {
  nodes: { name: string; service: string; health: string; role: string | null }[];
  clusters: { service: string; leader: string | null; term: number | null }[];
}

async function landingStatus(lab: Lab): Promise<ApiStatus> {
  const res = await fetch(`${lab.landingUrl}/api/status`, { signal: AbortSignal.timeout(10_000) });
  return (await res.json()) as ApiStatus;
}

/** The kv cluster's leader and term as the landing page shows them, once it knows a leader. */
async function kvLeader(lab: Lab, termAbove = 0): Promise<{ leader: string; term: number }> {
  return eventually(async () => {
    const kv = (await landingStatus(lab)).clusters.find((c) => c.service === 'kv');
    if (!kv?.leader || kv.term === null || kv.term <= termAbove) return undefined;
    return { leader: kv.leader, term: kv.term };
  }, 60_000);
}

async function timedHealth(url: string): Promise<number | 'failed'> {
  const started = performance.now();
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2_000) });
    await res.text();
    return performance.now() - started;
  } catch {
    return 'failed';
  }
}

/** The fastest of a few tries: one slow answer on a busy machine says nothing about the link. */
async function fastestHealth(url: string, tries = 3): Promise<number | 'failed'> {
  let best: number | 'failed' = 'failed';
  for (let i = 0; i < tries; i++) {
    const t = await timedHealth(url);
    if (t !== 'failed' && (best === 'failed' || t < best)) best = t;
  }
  return best;
}

/** n<from> reaches n<to> through its outgoing link proxy at port(n1) + 500 + 10·from + to. */
function link(kvPort: number, from: number, to: number): string {
  return `http://127.0.0.1:${kvPort + 500 + 10 * from + to}`;
}

describe.skipIf(!kvBuilt)('pnpm start (ddia start) and ddia share one lab', () => {
  let lab: Lab;
  const run = (...args: string[]) => ddiaIn(lab.env, ...args);
  const node = (name: string) => readState(lab.home).nodes.find((n) => n.name === name)!;

  beforeAll(async () => {
    lab = await startLab(BAND);
  }, 240_000);
  afterAll(async () => {
    if (lab) {
      await stopLab(lab);
      rmSync(lab.home, { recursive: true, force: true });
    }
  }, 120_000);

  it('starts every built service; ps lists nodes, proxy and landing page; a second start refuses', () => {
    expect(lab.landingUrl).toBe(`http://127.0.0.1:${8080 + lab.offset}`);
    expect(lab.output()).toContain('curl ');
    const state = readState(lab.home);
    expect(state.landing?.url).toBe(lab.landingUrl);
    const built = TOPOLOGY.filter((def) => existsSync(join(root, `packages/${def.pkg}/dist/main.js`)));
    // Every clustered service runs behind its fault proxy.
    expect(state.proxies?.map((p) => p.service).sort()).toEqual(
      built
        .filter((d) => d.clustered)
        .map((d) => d.name)
        .sort(),
    );
    for (const def of built)
      expect(state.nodes.filter((n) => n.service === def.name).length, def.name).toBe(def.nodes);

    const ps = run('ps');
    expect(ps.code).toBe(0);
    expect(ps.out).toContain(`landing page ${lab.landingUrl}`);
    expect(ps.out).toMatch(/kv fault proxy\s+pid \d+/);
    for (const n of state.nodes)
      expect(ps.out).toMatch(new RegExp(`${n.name}\\s+${n.pid}\\s+${n.port}\\s+running\\s+up`));

    const again = run('start');
    expect(again.code).toBe(1);
    expect(again.err).toContain('a lab is already running');
    expect(again.err).toContain('pnpm ddia down');
    expect(run('up', 'kv').err).toContain('kv is already up');
  });

  it('the landing page shows the Raft leader and term, quick facts and each chapter study guide', async () => {
    const { leader, term } = await kvLeader(lab);
    expect(leader).toMatch(/^kv-n[123]$/);
    expect(term).toBeGreaterThan(0);
    const status = await landingStatus(lab);
    expect(status.nodes.find((n) => n.name === leader)?.role).toBe('leader');
    expect(status.nodes.filter((n) => n.service === 'kv' && n.role === 'follower').length).toBeGreaterThan(0);

    const html = await (await fetch(lab.landingUrl)).text();
    expect(html).toMatch(new RegExp(`data-leader="${leader}" data-term="\\d+"`));
    for (const def of TOPOLOGY.filter((d) => readState(lab.home).nodes.some((n) => n.service === d.name))) {
      expect(html).toContain(`id="svc-${def.name}"`);
      if (existsSync(join(root, `packages/${def.pkg}/README.md`)))
        expect(html, def.name).toContain(`href="/guides/${def.pkg}/"`);
      // A service with a page for people (monitoring's dashboard) is linked from each node's row.
      if (def.uiPath)
        expect(html, def.name).toMatch(new RegExp(`class="ui" href="http://[^"]+${def.uiPath}"`));
    }
    const guide = await fetch(`${lab.landingUrl}/guides/kv-store/`);
    expect(guide.status).toBe(200);
    expect(await guide.text()).toMatch(/<h1>[^<]+<\/h1>/);
    expect((await fetch(`${lab.landingUrl}/guides/..%2Fsecrets/`)).status).toBe(404);
  });

  it.skipIf(!existsSync(join(root, 'packages/monitoring/dist/main.js')))(
    'the services export their spans to monitoring (a kv write is a trace on its dashboard API) and it scrapes every node of the topology',
    async () => {
      const monitoring = node('monitoring-n1');
      expect(node('kv-n1').command).toEqual(expect.arrayContaining(['--otlp', monitoring.url]));
      expect(monitoring.command).not.toContain('--otlp');
      const kv = node('kv-n1');
      const put = await fetch(`${kv.url}/kv/traced`, { method: 'PUT', body: 'yes' });
      expect(put.status).toBeLessThan(300);
      // Spans are batched every second; the write's server span lands under kv-store's name.
      const trace = await eventually(async () => {
        const res = await fetch(`${monitoring.url}/api/v1/traces?service=kv-store&limit=50`);
        const body = (await res.json()) as { data: { traces: { rootName: string; services: string[] }[] } };
        return body.data.traces.find((t) => t.rootName === 'PUT /kv/*');
      }, 30_000);
      expect(trace.services).toContain('kv-store');
      // Its scrape targets are the lab's topology (topology.ts passes them as --scrape): one job
      // per service, every node of it, and the kv nodes scraped up.
      type Target = { discoveredLabels: { __address__: string; job: string }; health: string };
      const targets = await eventually(async () => {
        const res = await fetch(`${monitoring.url}/api/v1/targets`);
        const body = (await res.json()) as { data: { activeTargets: Target[] } };
        const all = body.data.activeTargets;
        return all.filter((t) => t.discoveredLabels.job === 'kv' && t.health === 'up').length === 3
          ? all
          : undefined;
      }, 30_000);
      for (const n of readState(lab.home).nodes.filter((x) => x.service !== 'monitoring'))
        expect(
          targets.some(
            (t) =>
              t.discoveredLabels.job === n.service && t.discoveredLabels.__address__ === new URL(n.url).host,
          ),
          n.name,
        ).toBe(true);
    },
  );

  it.skipIf(!existsSync(clusterTool))(
    'streaming runs three brokers, each on its own Kafka port, metadata in Raft; acks=all reads back',
    async () => {
      const kafkaPorts = [0, 1, 2].map((k) => KAFKA_PORT + lab.offset + k);
      const brokers = kafkaPorts.map((p) => `127.0.0.1:${p}`).join(',');
      const n1 = node('streaming-n1');
      // Every broker registered in the metadata log, where clients reach it.
      const registered = await eventually(async () => {
        const res = await fetch(`${n1.url}/cluster`, { signal: AbortSignal.timeout(5_000) });
        const view = (await res.json()) as {
          caughtUp: boolean;
          brokers: { id: number; kafkaPort: number }[];
        };
        return view.caughtUp && view.brokers.length === 3 ? view.brokers : undefined;
      }, 60_000);
      expect(registered.map((b) => b.kafkaPort).sort()).toEqual(kafkaPorts);
      // The landing page names the controller (the Raft leader of the metadata).
      const controller = await eventually(async () => {
        const c = (await landingStatus(lab)).clusters.find((x) => x.service === 'streaming');
        return c?.leader ?? undefined;
      }, 60_000);
      expect(controller).toMatch(/^streaming-n[123]$/);

      const tool = (...args: string[]) =>
        spawnSync(process.execPath, [clusterTool, ...args, '--brokers', brokers, '--topic', 'lab'], {
          encoding: 'utf8',
          timeout: 60_000,
        });
      const created = tool('create');
      expect(created.stderr).toBe('');
      expect(created.stdout).toMatch(/lab\/0: leader [123], replicas \[1,2,3\], isr \[1,2,3\]/);
      const produced = tool('produce', '--count', '50');
      expect(produced.stdout, produced.stderr).toContain('acknowledged v0..v49 (acks=all)');
      const read = tool('read');
      expect(read.stdout, read.stderr).toContain(
        'read 50 records (high watermark 50): 50 distinct, 0 duplicates, in order',
      );
    },
  );

  it.skipIf(!existsSync(CHROMIUM))(
    `headless Chromium renders the landing page with the leader (screenshot in ${artifacts})`,
    async () => {
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
      try {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        await page.goto(lab.landingUrl);
        const leaderLine = page.locator('#svc-kv .leader');
        await leaderLine.waitFor();
        expect(await leaderLine.textContent()).toMatch(/Leader: kv-n[123] · term \d+/);
        expect(await page.locator('#svc-kv tr[data-node]').count()).toBe(3);
        mkdirSync(artifacts, { recursive: true });
        await page.screenshot({ path: join(artifacts, 'landing.png'), fullPage: true });
        await page.locator('#svc-kv a.guide').click();
        await page.waitForURL(/\/guides\/kv-store\/$/);
        expect(await page.locator('main h1').first().textContent()).not.toBe('');
        await page.screenshot({ path: join(artifacts, 'guide-kv-store.png') });
      } finally {
        await browser.close();
      }
      expect(readFileSync(join(artifacts, 'landing.png')).subarray(1, 4).toString()).toBe('PNG');
    },
  );

  it('kill the kv leader: the landing page shows a new leader in a higher term; restart brings it back', async () => {
    const before = await kvLeader(lab);
    const killed = node(before.leader);
    expect(run('kill', before.leader).code).toBe(0);
    await eventually(async () => (alive(killed.pid) ? undefined : true), 5_000);
    expect(run('ps').out).toMatch(new RegExp(`${before.leader}.*exited\\s+down`));

    const after = await kvLeader(lab, before.term);
    expect(after.leader).not.toBe(before.leader);

    const restarted = run('restart', before.leader);
    expect(restarted.code, restarted.err).toBe(0);
    expect(alive(node(before.leader).pid)).toBe(true);
    expect(run('ps').out).toMatch(new RegExp(`${before.leader}.*running\\s+up`));
    // (The lab runs at DDIA_LOG_LEVEL=warn here, so the log may hold nothing yet: it must exist.)
    const logs = run('logs', before.leader, '--lines', '5');
    expect(logs.code, logs.err).toBe(0);
    expect(logs.out).not.toContain('(no log at');
    // The restarted node rejoins: the landing page shows it with a role again.
    await eventually(async () => {
      const n = (await landingStatus(lab)).nodes.find((x) => x.name === before.leader);
      return n?.role === 'follower' || n?.role === 'leader' ? true : undefined;
    }, 60_000);
  });

  it('pause and resume a node', () => {
    expect(run('pause', 'kv-n2').code).toBe(0);
    expect(run('ps').out).toMatch(/kv-n2.*paused\s+down/);
    expect(run('resume', 'kv-n2').code).toBe(0);
    expect(run('ps').out).toMatch(/kv-n2.*running/);
  });

  it('latency, a partition and healing act on the links of the lab through its fault proxy', async () => {
    const kvPort = node('kv-n1').port;
    const n1ToN2 = link(kvPort, 1, 2);
    expect(await fastestHealth(n1ToN2)).not.toBe('failed');
    expect(run('latency', 'kv-n1', 'kv-n2', '300').code).toBe(0);
    const slow = await fastestHealth(n1ToN2);
    expect(slow).not.toBe('failed');
    expect(slow as number).toBeGreaterThan(290);

    const cut = run('partition', 'kv-n1', 'kv-n2,kv-n3');
    expect(cut.code, cut.err).toBe(0);
    expect(await timedHealth(n1ToN2)).toBe('failed');
    expect(await fastestHealth(link(kvPort, 3, 2))).not.toBe('failed'); // n3 -> n2 stays inside one side

    expect(run('heal').code).toBe(0);
    const healed = await fastestHealth(n1ToN2);
    expect(healed).not.toBe('failed');
    expect(healed as number).toBeLessThan(250);

    expect(run('partition', 'kv-n1', 'kv-n1').code).toBe(2); // the proxy refuses; a clear error, exit 2
    expect(run('latency', 'kv-n1', 'nobody', '5').code).toBe(2);
    expect(run('latency', 'lsm-n1', 'kv-n1', '5').code).toBe(2); // different clusters
  });

  it('Ctrl-C stops every process `pnpm start` started and clears the record', async () => {
    const state = readState(lab.home);
    const pids = [...state.nodes.map((n) => n.pid), ...(state.proxies ?? []).map((p) => p.pid)];
    expect(await stopLab(lab)).toBe(0);
    expect(lab.output()).not.toMatch(/Error|at .*\.js/);
    for (const pid of pids) expect(alive(pid), String(pid)).toBe(false);
    const after = readState(lab.home);
    expect(after.nodes).toEqual([]);
    expect(after.proxies ?? []).toEqual([]);
    expect(after.landing).toBeUndefined();
    await expect(fetch(`${lab.landingUrl}/health`)).rejects.toThrow();
  }, 120_000);
});

describe.skipIf(!lsmBuilt)('pnpm start --only', () => {
  it('`ddia down` from another terminal stops `pnpm start` too', async () => {
    const lab = await startLab(BAND, ['--only', 'lsm']);
    try {
      const state = readState(lab.home);
      expect(state.nodes.map((n) => n.name)).toEqual(['lsm-n1']);
      const down = ddiaIn(lab.env, 'down');
      expect(down.code, down.err).toBe(0);
      expect(down.out).toContain('stopped pnpm start');
      expect(await lab.exited).toBe(0);
      expect(alive(state.nodes[0]!.pid)).toBe(false);
      expect(ddiaIn(lab.env, 'ps').out).toContain('no nodes running');
    } finally {
      await stopLab(lab);
      rmSync(lab.home, { recursive: true, force: true });
    }
  }, 120_000);
});
