// Runs `ddia check ...` in-process and collects what it printed (shared by the command tests).
import { runCheckCommand } from '../src/check-command.js';

export async function runCheck(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCheckCommand(argv, {
    stdout: { write: (s: string) => (out += s) },
    stderr: { write: (s: string) => (err += s) },
  });
  return { code, out, err };
}
