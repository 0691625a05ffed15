// A service as a real process: bad flags exit 2 naming the flag; SIGTERM drains in-flight
// requests, closes storage and exits 0.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./fixtures/service-main.mjs', import.meta.url));
const built = existsSync(fileURLToPath(new URL('../dist/index.js', import.meta.url)));

describe.skipIf(!built)('a service process', () => {
  it.each([
    [['--port', 'http'], '--port: expected a number'],
    [['--engine', 'rocksdb'], '--engine: must be one of'],
    [['--slow-ms=-5'], '--slow-ms: must be at least 0'],
    [['--what'], '--what'],
  ])('exits 2 on bad flags %j', (args, message) => {
    const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(message);
  });

  it('exits 2 when a check across flags fails (configOrExit validate), naming the flag', () => {
    const validate = fileURLToPath(new URL('./fixtures/validate-flags.mjs', import.meta.url));
    const bad = spawnSync(process.execPath, [validate, '--n', '3', '--w', '5'], { encoding: 'utf8' });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--w: must be at most --n (3), got 5');
    const good = spawnSync(process.execPath, [validate, '--w', '3'], { encoding: 'utf8' });
    expect(good.status, good.stderr).toBe(0);
    expect(good.stdout).toContain('n=3 w=3');
  });

  it('prints its flags on --help and exits 0', () => {
    const r = spawnSync(process.execPath, [main, '--help'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('--slow-ms <number>');
    expect(r.stdout).toContain('[DDIA_DATA_DIR]');
  });

  it('exits 2 on a bad DDIA_* variable, naming the flag', () => {
    const r = spawnSync(process.execPath, [main], {
      encoding: 'utf8',
      env: { ...process.env, DDIA_PORT: 'x' },
    });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--port');
  });

  it('drains an in-flight request on SIGTERM, closes storage, and exits 0', async () => {
    const child = spawn(process.execPath, [main, '--port', '0', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    while (!/listening (\S+)/.test(out)) await new Promise((r) => setTimeout(r, 50));
    const url = /listening (\S+)/.exec(out)![1]!;
    const inFlight = fetch(`${url}/slow`).then((r) => r.json());
    await new Promise((r) => setTimeout(r, 100));
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await inFlight).toEqual({ done: true });
    expect(await exited).toBe(0);
    expect(out).toContain('storage closed');
    await expect(fetch(`${url}/health`)).rejects.toThrow();
  });
});
