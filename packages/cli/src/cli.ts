// The `ddia` command's dispatcher: `run(argv, io)` returns the exit code. Every subcommand is a
// row of COMMANDS: its usage line, its flags, how many positionals it takes, and what it does.
// A command line that does not fit is one UsageError (exit 2) quoting that usage line.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ParseArgsConfig, parseArgs } from 'node:util';
import {
  CommandError,
  type CommandOutput,
  EXIT_FAILED,
  EXIT_OK,
  EXIT_USAGE,
  HttpUnavailableError,
  processOutput,
  UsageError,
} from '@ddia/common';
import { parse } from 'yaml';
import { composeYaml, validateCompose } from './compose.js';
import { heal, latency, partition } from './faults.js';
import { clean, down, LOCAL, logs, ps, restart, signal, up } from './lab.js';
import { repoRoot } from './lab-paths.js';
import { startLanding } from './landing.js';
import { start } from './start.js';
import { findService, TOPOLOGY, TopologyError } from './topology.js';

type Flags = Record<string, string | boolean | undefined>;

/** An action's exit code; one that returns nothing (most do) exited 0. */
// biome-ignore lint/suspicious/noConfusingVoidType: `async action() { await down(io); }` is a Promise<void>
type ExitCode = number | void;

interface Command {
  usage: string;
  summary: string;
  /** Flags this command takes (node:util parseArgs); commands owned by other packages parse their own. */
  options?: ParseArgsConfig['options'];
  /** Fewest and most positionals. */
  positionals?: [number, number];
  /** Hands the raw arguments over (`check`, `schema`, `demo`). */
  raw?: true;
  action(
    positionals: string[],
    flags: Flags,
    io: CommandOutput,
    usage: (problem: string) => UsageError,
  ): Promise<ExitCode>;
}

const INT = { type: 'string' } as const;
const MANY = Number.POSITIVE_INFINITY;

/** A flag or positional that must be a whole number. */
function wholeNumber(
  usage: (problem: string) => UsageError,
  what: string,
  text: unknown,
): number | undefined {
  if (text === undefined) return undefined;
  if (typeof text !== 'string' || !/^\d+$/.test(text))
    throw usage(`${what}: expected a whole number, got '${text}'`);
  return Number(text);
}

const COMMANDS: Record<string, Command> = {
  start: {
    usage: 'ddia start [--port P] [--only service,...]',
    summary:
      'every service of the topology, clusters behind their fault proxy, and the landing page on :8080 (Ctrl-C stops all)',
    options: { port: INT, only: { type: 'string' } },
    positionals: [0, 0],
    async action(_p, flags, io, usage) {
      const only = typeof flags.only === 'string' ? flags.only.split(',').filter(Boolean) : undefined;
      if (only?.length === 0) throw usage('--only: name at least one service');
      for (const name of only ?? []) findService(name);
      await start(io, { landingPort: wholeNumber(usage, '--port', flags.port), only });
    },
  },
  up: {
    usage: 'ddia up <service> [--nodes N]',
    summary: `start one service's nodes (${TOPOLOGY.map((s) => s.name).join(', ')})`,
    options: { nodes: INT },
    positionals: [1, 1],
    async action([service], flags, io, usage) {
      await up(service!, wholeNumber(usage, '--nodes', flags.nodes), io);
    },
  },
  down: {
    usage: 'ddia down [service]',
    summary: "stop the lab's nodes, proxies and `pnpm start` (all, or one service's)",
    positionals: [0, 1],
    action: ([service], _f, io) => down(service, io),
  },
  ps: {
    usage: 'ddia ps',
    summary: 'nodes, pids, ports, health; fault proxies and the landing page',
    positionals: [0, 0],
    action: (_p, _f, io) => ps(io),
  },
  logs: {
    usage: 'ddia logs <node> [--lines N]',
    summary: "the end of a node's log (nodes are named kv-n1, kv-n2, ...)",
    options: { lines: INT },
    positionals: [1, 1],
    action: async ([node], flags, io, usage) =>
      logs(node!, wholeNumber(usage, '--lines', flags.lines) ?? 50, io),
  },
  kill: signalCommand('kill', 'SIGKILL a node (crash it; `ddia restart` brings it back)'),
  pause: signalCommand('pause', 'SIGSTOP a node (a process pause: a GC stall, a frozen VM)'),
  resume: signalCommand('resume', 'SIGCONT a paused node'),
  restart: {
    usage: 'ddia restart <node>',
    summary: 'start a node again on the same data dir, running or killed',
    positionals: [1, 1],
    action: ([node], _f, io) => restart(node!, io),
  },
  latency: {
    usage: 'ddia latency <node> <node> <ms> [--jitter ms]',
    summary: 'add delay both ways between two nodes of a cluster (through its fault proxy)',
    options: { jitter: INT },
    positionals: [3, 3],
    async action([from, to, ms], flags, io, usage) {
      const delay = wholeNumber(usage, '<ms>', ms)!;
      await latency(from!, to!, delay, wholeNumber(usage, '--jitter', flags.jitter) ?? 0, io);
    },
  },
  partition: {
    usage: 'ddia partition <nodes> <nodes> [<nodes>...]   (e.g. kv-n1 kv-n2,kv-n3)',
    summary: 'cut the network between groups of nodes of a cluster',
    positionals: [2, MANY],
    action: (groups, _f, io) => partition(groups, io),
  },
  heal: {
    usage: 'ddia heal',
    summary: 'remove every partition, delay and blackhole',
    positionals: [0, 0],
    action: (_p, _f, io) => heal(io),
  },
  clean: {
    usage: 'ddia clean',
    summary: "delete the lab's data and logs (.ddia/) when nothing runs",
    positionals: [0, 0],
    action: (_p, _f, io) => clean(io),
  },
  compose: {
    usage: 'ddia compose [--check]',
    summary: 'write docker-compose.yml from the topology (--check: fail if it is stale)',
    options: { check: { type: 'boolean' } },
    positionals: [0, 0],
    action: (_p, flags, io) => compose(flags.check === true, io),
  },
  landing: {
    usage: 'ddia landing [--port P] [--host H] <name=service=url>...',
    summary: 'serve the landing page for the given nodes (the compose file runs this)',
    options: { port: INT, host: { type: 'string' } },
    positionals: [0, MANY],
    async action(specs, flags, io, usage) {
      const nodes = specs.map((spec) => {
        const [name, service, url] = spec.split('=');
        if (!name || !service || !url) throw usage(`'${spec}' is not name=service=url`);
        return { name, service, url };
      });
      const host = typeof flags.host === 'string' ? flags.host : '127.0.0.1';
      const landing = await startLanding(() => nodes, wholeNumber(usage, '--port', flags.port), host);
      io.out(`landing page on ${landing.url()}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await landing.close();
    },
  },
  check: {
    usage:
      'ddia check linearizable --model cas-register|kv --format jepsen-log|jepsen-edn|json [--verbose] [--html OUT.html] FILE... | ddia check transactions FILE...   (--help)',
    summary:
      'check recorded histories: linearizability, or Elle-style transaction anomalies (exit 0 ok, 1 violation, 2 bad input, 3 unknown)',
    raw: true,
    // Commands of other packages load on use: every `ddia` call would otherwise pay for them.
    action: async (args, _f, io) => (await import('@ddia/testkit')).runCheckCommand(args, io),
  },
  schema: {
    usage: 'ddia schema migrate ...   (--help)',
    summary: 'rewrite an Avro container file to a registered reader schema',
    raw: true,
    async action(args, _f, io, usage) {
      if (args[0] !== 'migrate') throw usage(`unknown schema command '${args[0] ?? ''}'`);
      return (await import('@ddia/schema-evolution')).runSchemaMigrate(args.slice(1), io);
    },
  },
  batch: {
    usage:
      'ddia batch run <job> --input PATH [--input PATH]... --output DIR [--reducers N] [--param k=v]... [--coordinator URL]',
    summary:
      "run a MapReduce job on the lab's batch coordinator (wordcount, grep, indexer, sort, aggregate, join-*) with a progress bar",
    options: {
      input: { type: 'string', multiple: true },
      output: { type: 'string' },
      reducers: INT,
      param: { type: 'string', multiple: true },
      coordinator: { type: 'string' },
    },
    positionals: [2, 2],
    async action([what, job], flags, io, usage) {
      if (what !== 'run') throw usage(`unknown batch command '${what}'`);
      const inputs = (flags.input as unknown as string[] | undefined) ?? [];
      if (inputs.length === 0) throw usage('--input: name at least one file or folder');
      if (typeof flags.output !== 'string' || flags.output === '')
        throw usage('--output: a folder is required');
      const params: Record<string, string> = {};
      for (const pair of (flags.param as unknown as string[] | undefined) ?? []) {
        const eq = pair.indexOf('=');
        if (eq <= 0) throw usage(`--param: '${pair}' is not key=value`);
        params[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
      const coordinator = typeof flags.coordinator === 'string' ? flags.coordinator : LOCAL.urlOf('batch', 1);
      const { runBatchJob } = await import('@ddia/batch');
      let record: Awaited<ReturnType<typeof runBatchJob>>;
      try {
        record = await runBatchJob({
          coordinator,
          job: job!,
          inputs: inputs.map((p) => resolve(p)),
          output: resolve(flags.output),
          reducers: wholeNumber(usage, '--reducers', flags.reducers),
          params,
          out: io.stdout,
        });
      } catch (err) {
        if (err instanceof HttpUnavailableError) {
          throw new CommandError(
            `no batch coordinator at ${coordinator}: start it with \`ddia up batch\` (and \`ddia up batch-worker\`)`,
          );
        }
        throw new CommandError((err as Error).message);
      }
      return record.status === 'succeeded' ? EXIT_OK : EXIT_FAILED;
    },
  },
  geo: {
    usage:
      'ddia geo list | ddia geo run <experiment> --out DIR [--seed N] [--profile P] [--regions a,b,c] [--quick] | ddia geo compose [--check]',
    summary:
      'geo-distribution experiments: regions with injected latency, quorums, the PBS model; a report with plots',
    raw: true,
    action: async (args, _f, io) => (await import('@ddia/geo')).runGeoCommand(args, io),
  },
  demo: {
    usage: 'ddia demo transactions',
    summary: "the book's anomaly stories at every isolation level",
    positionals: [1, 1],
    async action([what], _f, io, usage) {
      if (what !== 'transactions') throw usage(`unknown demo '${what}'`);
      const { runTransactionsDemo } = await import('@ddia/transactions');
      await runTransactionsDemo({ log: (line) => io.out(line) });
    },
  },
};

function signalCommand(what: 'kill' | 'pause' | 'resume', summary: string): Command {
  return {
    usage: `ddia ${what} <node>`,
    summary,
    positionals: [1, 1],
    action: async ([node], _f, io) => signal(node!, what, io),
  };
}

export function usageText(): string {
  const lines = Object.values(COMMANDS).map((c) => `  ${c.usage}\n        ${c.summary}`);
  return `ddia — run the DDIA Lab's services and break them

${lines.join('\n')}

Exit codes: 0 done, 1 failed, 2 usage error. DDIA_HOME sets the lab's folder (default .ddia/),
DDIA_PORT_OFFSET shifts every port of the lab (a second lab beside the first).`;
}

async function compose(check: boolean, io: CommandOutput): Promise<number> {
  const path = join(repoRoot(), 'docker-compose.yml');
  const yaml = composeYaml();
  const problems = validateCompose(parse(yaml));
  if (problems.length > 0)
    throw new CommandError(`generated compose file is invalid:\n${problems.join('\n')}`);
  if (check) {
    const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
    if (current !== yaml) {
      io.err('docker-compose.yml is stale: run `pnpm compose` and commit it');
      return EXIT_FAILED;
    }
    io.out('docker-compose.yml is current and valid against the Compose Specification schema');
    return EXIT_OK;
  }
  writeFileSync(path, yaml);
  io.out(`wrote ${path}`);
  return EXIT_OK;
}

export async function run(argv: string[], io: CommandOutput = processOutput): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.out(usageText());
    return EXIT_OK;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new CommandError(`unknown command '${name}'\n\n${usageText()}`, EXIT_USAGE);
  const usage = (problem: string) => new UsageError(`${name}: ${problem}`, command.usage);
  if (command.raw) return (await command.action(rest, {}, io, usage)) ?? EXIT_OK;
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: command.options ?? {},
    }) as {
      values: Flags;
      positionals: string[];
    };
  } catch (error) {
    throw usage((error as Error).message);
  }
  const [fewest, most] = command.positionals ?? [0, 0];
  const count = parsed.positionals.length;
  if (count < fewest)
    throw usage(fewest === 1 ? 'missing an argument' : `needs at least ${fewest} arguments`);
  if (count > most) throw usage(`unexpected argument '${parsed.positionals[most]}'`);
  return (await command.action(parsed.positionals, parsed.values, io, usage)) ?? EXIT_OK;
}

/** Errors a user can fix give their exit code; anything else is a bug (undefined: rethrow). */
export function exitCodeOf(error: unknown): number | undefined {
  if (error instanceof CommandError) return error.exitCode;
  // An unknown service or a node count out of range; a proxy refusing a fault (e.g. `partition kv-n1 kv-n1`).
  // (ProxyControlError by name: importing testkit here would slow every `ddia` call down.)
  if (error instanceof TopologyError || (error as Error)?.name === 'ProxyControlError') return EXIT_USAGE;
  return undefined;
}

/** `run`, with an error a user can fix printed as one line `ddia: ...` and turned into its exit code. */
export async function runReporting(argv: string[], io: CommandOutput): Promise<number> {
  try {
    return await run(argv, io);
  } catch (error) {
    const known = exitCodeOf(error);
    if (known === undefined) throw error;
    io.err(`ddia: ${(error as Error).message}`);
    return known;
  }
}
