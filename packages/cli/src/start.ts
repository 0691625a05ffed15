// `pnpm start` / `ddia start`: every service of the topology, each brought up exactly as
// `ddia up <service>` does (detached processes recorded in the lab's state.json, clusters behind
// their fault proxy), then the landing page. `ddia ps|kill|restart|latency|...` act on this lab
// from any other terminal. Ctrl-C (or `ddia down`) stops everything it started.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { CommandError, type CommandOutput } from '@ddia/common';
import { awaitHealthy, down, launch, runningParts } from './lab.js';
import { labHome, portOffset, serviceEntry } from './lab-paths.js';
import { startLanding } from './landing.js';
import { portFree } from './processes.js';
import { loadState, type NodeRecord, saveState } from './state.js';
import { findService, LANDING_PORT, MONITORING, TOPOLOGY } from './topology.js';

export interface StartOptions {
  /** The landing page's port (default 8080 + DDIA_PORT_OFFSET). */
  landingPort?: number;
  /** Only these services (`ddia start --only kv,lsm`); default: the whole topology. */
  only?: string[];
}

export async function start(io: CommandOutput, options: StartOptions = {}): Promise<void> {
  // Signals first: a Ctrl-C while the services come up must still stop them all.
  let stopRequested = false;
  let wake: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    wake = resolve;
  });
  const onSignal = () => {
    stopRequested = true;
    wake();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await runLab(io, options, () => stopRequested, stopped);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

async function runLab(
  io: CommandOutput,
  options: StartOptions,
  stopRequested: () => boolean,
  stopped: Promise<void>,
): Promise<void> {
  const running = runningParts(loadState());
  if (running.length > 0) {
    throw new CommandError(
      `a lab is already running (${running.join(', ')}).\n` +
        'Use it as it is (`pnpm ddia ps`), or stop it first with `pnpm ddia down` ' +
        '(or Ctrl-C in the terminal that runs `pnpm start`).',
    );
  }
  const landingPort = options.landingPort ?? LANDING_PORT + portOffset();
  if (!(await portFree(landingPort))) {
    throw new CommandError(`port ${landingPort} for the landing page is in use; pick another with --port`);
  }
  const services = options.only ? options.only.map(findService) : TOPOLOGY;
  // The services export spans to monitoring when it is part of this lab (it is by default).
  const traces = services.some((def) => def.name === MONITORING);
  const started: string[] = [];
  const stopAll = async () => {
    for (const name of started.toReversed()) await down(name, io);
  };
  try {
    // Every service is launched first and waited for together: on 2 cores the services
    // start in about the time of the slowest, not the sum.
    const state = loadState();
    const launched: NodeRecord[] = [];
    for (const def of services) {
      if (stopRequested()) break;
      const entry = serviceEntry(def.pkg);
      if (!existsSync(entry)) {
        io.err(`skipping ${def.name}: ${entry} is not built (pnpm build)`);
        continue;
      }
      started.push(def.name);
      try {
        launched.push(...(await launch(def, def.nodes, state, io, { traces })));
      } finally {
        await saveState(state);
      }
    }
    if (!stopRequested()) await awaitHealthy(launched, io);
  } catch (error) {
    await stopAll();
    throw error;
  }
  if (stopRequested()) {
    io.out('\nstopping the lab...');
    await stopAll();
    return;
  }
  const landing = await startLanding(
    () => loadState().nodes.map(({ name, service, url, pid }) => ({ name, service, url, pid })),
    landingPort,
  );
  const state = loadState();
  state.landing = { pid: process.pid, url: landing.url() };
  await saveState(state);
  printWelcome(io, landing.url());
  await stopped;
  io.out('\nstopping the lab...');
  await landing.close();
  await stopAll();
  const after = loadState();
  if (after.landing?.pid === process.pid) {
    delete after.landing;
    await saveState(after);
  }
}

function printWelcome(io: CommandOutput, url: string): void {
  const nodes = loadState().nodes;
  io.out('');
  io.out(`DDIA Lab is up: ${url}`);
  io.out('');
  for (const def of TOPOLOGY) {
    const mine = nodes.filter((n) => n.service === def.name);
    const first = mine[0];
    if (!first) continue;
    io.out(`${def.chapter} ${def.title} (${def.name}): ${mine.map((n) => n.url).join(' ')}`);
    for (const example of def.curl) {
      const line = example.replaceAll('{url}', first.url);
      io.out(`    ${line.startsWith('curl') ? line : `curl ${line}`}`);
    }
  }
  io.out('');
  io.out('From another terminal: pnpm ddia ps | kill kv-n1 | restart kv-n1 | latency kv-n1 kv-n2 200 | heal');
  io.out(`Logs and data: ${labHome()}   (${join(labHome(), 'logs')})`);
  io.out('Ctrl-C (or `pnpm ddia down`) stops everything.');
}
