// `pnpm start` / `ddia start`: every service of the topology as local child processes, the
// landing page, URLs and curl examples. Ctrl-C stops every child; none outlives this process.
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CliError, type Output } from './lab.js';
import { labHome, serviceEntry } from './lab-paths.js';
import { startLanding } from './landing.js';
import { STOP_GRACE_MS, waitHealthy } from './processes.js';
import { LANDING_PORT, nodeArgs, planNodes, TOPOLOGY } from './topology.js';

export async function start(
  io: Output,
  options: { landingPort?: number; exitAfterReady?: boolean } = {},
): Promise<void> {
  const children: ChildProcess[] = [];
  const stopAll = () => {
    for (const child of children)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  };
  // Whatever happens to this process, its children go with it.
  process.on('exit', () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  });
  const nodes: { name: string; service: string; url: string; pid: number }[] = [];
  const logDir = join(labHome(), 'logs');
  mkdirSync(logDir, { recursive: true });
  for (const def of TOPOLOGY) {
    const entry = serviceEntry(def.pkg);
    if (!existsSync(entry)) {
      io.err(`skipping ${def.name}: ${entry} not built`);
      continue;
    }
    const plan = planNodes(def);
    for (const node of plan) {
      const dataDir = join(labHome(), 'data', node.name);
      const log = createWriteStream(join(logDir, `${node.name}.log`), { flags: 'a' });
      const child = spawn(process.execPath, [entry, ...nodeArgs(def, node, plan, dataDir)], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, DDIA_LOG_LEVEL: process.env.DDIA_LOG_LEVEL ?? 'info' },
      });
      child.stdout?.pipe(log);
      child.stderr?.pipe(log);
      children.push(child);
      nodes.push({ name: node.name, service: def.name, url: node.url, pid: child.pid ?? -1 });
    }
  }
  for (const node of nodes) {
    if (!(await waitHealthy(node.url, node.pid))) {
      stopAll();
      throw new CliError(`${node.name} did not start; see ${join(logDir, `${node.name}.log`)}`);
    }
  }
  const landingPort = options.landingPort ?? LANDING_PORT;
  const landing = await startLanding(nodes, landingPort);
  io.out('');
  io.out(`DDIA Lab is up: ${landing.url()}`);
  io.out('');
  for (const def of TOPOLOGY) {
    const first = nodes.find((n) => n.service === def.name);
    if (!first) continue;
    io.out(
      `${def.chapter} ${def.title} (${def.name}): ${nodes
        .filter((n) => n.service === def.name)
        .map((n) => n.url)
        .join(' ')}`,
    );
    for (const example of def.curl) {
      const line = example.replaceAll('{url}', first.url);
      io.out(`    ${line.startsWith('curl') ? line : `curl ${line}`}`);
    }
  }
  io.out('');
  io.out(`Logs: ${logDir}   Ctrl-C stops everything.`);
  if (options.exitAfterReady) {
    stopAll();
    await landing.close();
    return;
  }
  await new Promise<void>((resolve) => {
    const shutdown = () => {
      io.out('\nstopping the lab...');
      stopAll();
      void landing.close().finally(resolve);
    };
    process.once('SIGINT', shutdown);
    process.once('SIGTERM', shutdown);
  });
  await Promise.all(
    children.map((child) =>
      child.exitCode !== null || child.signalCode !== null
        ? Promise.resolve()
        : new Promise<void>((resolve) => {
            const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
            child.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
          }),
    ),
  );
}
