// What every command-line program of the lab writes to and how it fails: `ddia` and the
// subcommands other packages own (`ddia check`, `ddia schema migrate`, `ddia batch run`) share
// one output interface, one error with an exit code, and one usage error.

export interface CommandOutput {
  /** One line to standard output (the newline is added). */
  out(line: string): void;
  /** One line to standard error (the newline is added). */
  err(line: string): void;
  /** The same two sinks as writable streams (progress bars redraw a line on a TTY). */
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

export const processOutput: CommandOutput = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stdout: process.stdout,
  stderr: process.stderr,
};

/** Exit codes of every command: done, failed, a command line that does not fit. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure the user can fix; the command prints the message and exits with `exitCode`. */
export class CommandError extends Error {
  override name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode: number = EXIT_FAILED,
  ) {
    super(message);
  }
}

/** A command line that does not fit its usage: exit 2, the problem and the usage line. */
export class UsageError extends CommandError {
  override name = 'UsageError';
  constructor(problem: string, usage: string) {
    super(`${problem}\nusage: ${usage}`, EXIT_USAGE);
  }
}
