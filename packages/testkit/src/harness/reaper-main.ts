// The watchdog process of the harness's reaper. The test process writes `+pid` and `-pid` lines
// to our stdin as it spawns and reaps nodes; when stdin closes (the test process exited, crashed
// or was SIGKILLed, which no 'exit' handler survives), we SIGKILL every pid still listed.
import { createInterface } from 'node:readline';

const pids = new Set<number>();
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const pid = Number(line.slice(1));
  if (!Number.isInteger(pid) || pid <= 0) return;
  if (line.startsWith('+')) pids.add(pid);
  else if (line.startsWith('-')) pids.delete(pid);
});
lines.on('close', () => {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
  process.exit(0);
});
