// Entry of the proxy daemon that `ddia up` spawns detached:
//   node packages/testkit/dist/proxy/daemon-main.js --config /path/to/proxies.json
// Prints one JSON line {"ready":true,"controlUrl":...,"pid":...} once every proxy listens, and
// exits 0 on SIGTERM/SIGINT after closing them. Exits 2 on a bad config.
import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { DaemonConfigError, startProxyDaemon, validateDaemonConfig } from './daemon.js';

async function main(): Promise<void> {
  let configPath: string | undefined;
  try {
    configPath = parseArgs({ options: { config: { type: 'string' } } }).values.config;
  } catch (err) {
    fail((err as Error).message);
  }
  if (!configPath) fail('--config <file.json> is required');
  let config: ReturnType<typeof validateDaemonConfig>;
  try {
    config = validateDaemonConfig(JSON.parse(await readFile(configPath!, 'utf8')));
  } catch (err) {
    fail(`--config ${configPath}: ${(err as Error).message}`);
  }
  const daemon = await startProxyDaemon(config!);
  const shutdown = () => {
    daemon.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  // Handlers first: whoever reads the ready line may signal us at once.
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  process.stdout.write(
    `${JSON.stringify({ ready: true, controlUrl: daemon.controlUrl, pid: process.pid })}\n`,
  );
}

function fail(message: string): never {
  process.stderr.write(`error: ${message}\n`);
  process.exit(2);
}

main().catch((err: unknown) => {
  const message = err instanceof DaemonConfigError ? err.message : String((err as Error).stack ?? err);
  process.stderr.write(`error: ${message}\n`);
  process.exit(err instanceof DaemonConfigError ? 2 : 1);
});
