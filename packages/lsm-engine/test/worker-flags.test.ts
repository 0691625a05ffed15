// A process started with a flag Node refuses for worker threads (a V8 flag such as --trace-gc)
// must still get table workers: before, `node --trace-gc app.js` failed its first flush with
// ERR_WORKER_INVALID_EXEC_ARGV and the engine stopped.
import { Worker } from 'node:worker_threads';
import { expect, it } from 'vitest';
import { startWorker } from '../src/table-workers.js';

const script = new URL(
  'data:text/javascript,import { parentPort } from "node:worker_threads"; parentPort.postMessage(process.execArgv);',
);

it('starts a worker without the flags Node refuses for threads, and with those it accepts', async () => {
  expect(() => new Worker(script, { execArgv: ['--trace-gc'] })).toThrow(/execArgv/);
  for (const [given, kept] of [
    [['--trace-gc'], []],
    [['--no-warnings'], ['--no-warnings']],
  ] as const) {
    const worker = startWorker(script, [...given]);
    const argv = await new Promise((resolve) => worker.once('message', resolve));
    await worker.terminate();
    expect(argv).toEqual(kept);
  }
});
