// The `ddia` command's dispatcher: `run(argv)` returns the exit code.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { runSchemaMigrate } from '@ddia/schema-evolution';
import { runCheckCommand } from '@ddia/testkit';
import { runTransactionsDemo } from '@ddia/transactions';
import { parse } from 'yaml';
import { composeYaml, validateCompose } from './compose.js';
import { heal, latency, partition } from './faults.js';
import { CliError, clean, down, logs, type Output, ps, restart, signal, up } from './lab.js';
import { repoRoot } from './lab-paths.js';
import { startLanding } from './landing.js';
import { start } from './start.js';
import { TOPOLOGY } from './topology.js';

const USAGE = `ddia — run the DDIA Lab's services and break them

  ddia start                         every service + landing page on :8080 (Ctrl-C stops all)
  ddia up <service> [--nodes N]      start a local cluster (services: ${TOPOLOGY.map((s) => s.name).join(', ')})
  ddia down [service]                stop nodes (all, or one service's)
  ddia ps                            nodes, pids, ports, health
  ddia logs <node> [--lines N]       a node's log (node names: kv-n1, kv-n2, ...)
  ddia kill|pause|resume <node>      SIGKILL / SIGSTOP / SIGCONT a node
  ddia restart <node>                restart a node on the same data dir
  ddia latency <a> <b> <ms> [--jitter ms]   add delay both ways between two nodes of a cluster
  ddia partition <a,b> <c>           cut the network between groups of nodes (kv-n1,kv-n2 kv-n3)
  ddia heal                          remove every partition, delay and blackhole
  ddia clean                         delete .ddia/ (data and logs) when nothing runs
  ddia compose [--check]             write docker-compose.yml from the topology (--check: fail if stale)
  ddia check linearizable --model cas-register|kv --format jepsen-log|jepsen-edn|json FILE...
                                     check recorded histories (exit 0 all linearizable, 1 not, 2 unreadable, 3 unknown)
  ddia schema migrate ...            rewrite an Avro container file to a registered reader schema (--help)
  ddia demo transactions             the book's anomaly stories at every isolation level
  ddia landing [--port P] name=service=url...   serve the landing page for given nodes
`;

export const io: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

function positiveInt(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d+$/.test(text)) throw new CliError(`--${flag}: expected a positive integer, got '${text}'`, 2);
  return Number(text);
}

function one(positionals: string[], what: string): string {
  const value = positionals[0];
  if (!value) throw new CliError(`missing <${what}>\n\n${USAGE}`, 2);
  return value;
}

export async function run(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  // Commands owned by other packages parse their own arguments.
  if (command === 'check') return runCheckCommand(rest, { stdout: process.stdout, stderr: process.stderr });
  if (command === 'schema' && rest[0] === 'migrate') {
    return runSchemaMigrate(rest.slice(1), { stdout: process.stdout, stderr: process.stderr });
  }
  if (command === 'demo') {
    if (rest[0] !== 'transactions' || rest.length > 1) throw new CliError('usage: ddia demo transactions', 2);
    await runTransactionsDemo({ log: (line) => io.out(line) });
    return 0;
  }
  const parsed = parseArgs({
    args: rest,
    allowPositionals: true,
    strict: true,
    options: {
      nodes: { type: 'string' },
      lines: { type: 'string' },
      port: { type: 'string' },
      host: { type: 'string' },
      check: { type: 'boolean' },
      jitter: { type: 'string' },
    },
  });
  const { values, positionals } = parsed;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return 0;
    case 'start':
      await start(io, { landingPort: positiveInt('port', values.port) });
      return 0;
    case 'up':
      await up(one(positionals, 'service'), positiveInt('nodes', values.nodes), io);
      return 0;
    case 'down':
      await down(positionals[0], io);
      return 0;
    case 'ps':
      await ps(io);
      return 0;
    case 'logs':
      logs(one(positionals, 'node'), positiveInt('lines', values.lines) ?? 50, io);
      return 0;
    case 'kill':
    case 'pause':
    case 'resume':
      signal(one(positionals, 'node'), command, io);
      return 0;
    case 'restart':
      await restart(one(positionals, 'node'), io);
      return 0;
    case 'latency': {
      const [from, to, ms] = positionals;
      if (!from || !to || ms === undefined)
        throw new CliError('usage: ddia latency <from> <to> <ms> [--jitter ms]', 2);
      await latency(from, to, positiveInt('ms', ms)!, positiveInt('jitter', values.jitter) ?? 0, io);
      return 0;
    }
    case 'partition':
      await partition(positionals, io);
      return 0;
    case 'heal':
      await heal(io);
      return 0;
    case 'clean':
      await clean(io);
      return 0;
    case 'compose': {
      const path = join(repoRoot(), 'docker-compose.yml');
      const yaml = composeYaml();
      const problems = validateCompose(parse(yaml));
      if (problems.length > 0)
        throw new CliError(`generated compose file is invalid:\n${problems.join('\n')}`);
      if (values.check) {
        const current = existsSync(path) ? readFileSync(path, 'utf8') : '';
        if (current !== yaml) {
          io.err('docker-compose.yml is stale: run `pnpm compose` and commit it');
          return 1;
        }
        io.out('docker-compose.yml is current and valid against the Compose Specification schema');
        return 0;
      }
      writeFileSync(path, yaml);
      io.out(`wrote ${path}`);
      return 0;
    }
    case 'landing': {
      const nodes = positionals.map((spec) => {
        const [name, service, url] = spec.split('=');
        if (!name || !service || !url) throw new CliError(`landing: '${spec}' is not name=service=url`, 2);
        return { name, service, url };
      });
      const landing = await startLanding(nodes, positiveInt('port', values.port), values.host ?? '127.0.0.1');
      io.out(`landing page on ${landing.url()}`);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await landing.close();
      return 0;
    }
    default:
      throw new CliError(`unknown command '${command}'\n\n${USAGE}`, 2);
  }
}
