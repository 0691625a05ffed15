// What every `ddia` subcommand writes to, and how it fails: one output interface and one error
// class whose exit code main() returns (0 done, 1 failed, 2 usage).

export interface Output {
  /** One line to standard output (the newline is added). */
  out(line: string): void;
  /** One line to standard error (the newline is added). */
  err(line: string): void;
  /** The same two sinks as writable streams, for commands other packages own (`ddia check`). */
  stdout: { write(text: string): unknown; isTTY?: boolean };
  stderr: { write(text: string): unknown };
}

export const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  stdout: process.stdout,
  stderr: process.stderr,
};

/** Exit codes of the `ddia` command. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** A failure the user can fix; main prints it and exits with `exitCode`. */
export class CliError extends Error {
  override name = 'CliError';
  constructor(
    message: string,
    readonly exitCode = EXIT_FAILED,
  ) {
    super(message);
  }
}

/** A command line that does not fit the subcommand's usage: exit 2 with that usage line. */
export class UsageError extends CliError {
  override name = 'UsageError';
  constructor(problem: string, usage: string) {
    super(`${problem}\nusage: ${usage}`, EXIT_USAGE);
  }
}
