// The wire format of forwarded writes (FORMAT.md §4): a follower sends every write its clients
// gave it in one event-loop turn to the leader as ONE internal request, and the leader answers
// per command. Pure: no I/O, so the codec is tested on bytes alone.
//
// Why a batch: each HTTP request costs a few syscalls and context switches at both ends, and on
// a small machine that, not Raft, bounds write throughput (README "Benchmark"). etcd's followers
// likewise forward proposals over their peer stream (MsgProp) instead of one call per client.

import { readVarint, varintLength, writeVarint } from '@ddia/common';
import type { ApplyOutcome } from '../store/result.js';

export const FORWARD_BATCH_FORMAT_VERSION = 1;
/** Where the leader takes batches. Internal: hidden from the OpenAPI document. */
export const FORWARD_PATH = '/internal/forward';
export const FORWARD_CONTENT_TYPE = 'application/octet-stream';
/** Most commands in one batch; the follower sends more as several batches. */
export const FORWARD_BATCH_COMMANDS_MAX = 1_024;
/** A follower closes a batch once it holds this many bytes (a bigger single command goes alone). */
export const FORWARD_BATCH_BYTES_TARGET = 1024 * 1024;
/** Bytes of an encoded command beside its key and value: header, condition, session (FORMAT.md §1). */
export const COMMAND_OVERHEAD_BYTES_MAX = 1024;
/** A command's deadline and length varints in a batch (each at most VARINT_BYTES_MAX = 8 bytes). */
const PER_COMMAND_FRAMING_BYTES_MAX = 16;

/** The largest batch body a follower sends, given the largest command it may hold. */
export function forwardBodyBytesMax(commandBytesMax: number): number {
  return (
    1 +
    PER_COMMAND_FRAMING_BYTES_MAX +
    Math.max(FORWARD_BATCH_BYTES_TARGET, commandBytesMax) +
    FORWARD_BATCH_COMMANDS_MAX * PER_COMMAND_FRAMING_BYTES_MAX
  );
}

/** One forwarded write: its encoded command (store/command.ts) and what is left of its deadline. */
export interface ForwardedCommand {
  deadlineMs: number;
  command: Uint8Array;
}

/** A problem for one command, as the leader would have answered it directly (RFC 9457 fields). */
export interface ForwardProblem {
  code: string;
  status: number;
  title: string;
  retriable: boolean;
  detail?: string;
  extensions?: Record<string, unknown>;
}

/**
 * The leader's answer for one command: the state machine's outcome, `retry` when the node that
 * got the batch was not (or stopped being) the leader before proposing it (not applied: the
 * follower retries, as routeToLeader does for a whole forwarded request), or a problem.
 */
export type ForwardResult = { outcome: ApplyOutcome } | { retry: true } | { problem: ForwardProblem };

/** The leader's JSON answer to a batch: its view of term and leader, one result per command. */
export interface ForwardBatchAnswer {
  term: number;
  leaderId: string | null;
  results: ForwardResult[];
}

/** A batch body or answer that does not follow FORMAT.md §4. */
export class ForwardBatchFormatError extends Error {
  override name = 'ForwardBatchFormatError';
}

export function encodeForwardBatch(commands: readonly ForwardedCommand[]): Buffer {
  let size = 1 + varintLength(commands.length);
  for (const { deadlineMs, command } of commands) {
    size += varintLength(deadlineMs) + varintLength(command.length) + command.length;
  }
  const out = Buffer.allocUnsafe(size);
  out[0] = FORWARD_BATCH_FORMAT_VERSION;
  let offset = writeVarint(out, 1, commands.length);
  for (const { deadlineMs, command } of commands) {
    offset = writeVarint(out, offset, deadlineMs);
    offset = writeVarint(out, offset, command.length);
    out.set(command, offset);
    offset += command.length;
  }
  if (offset !== size) throw new ForwardBatchFormatError(`encoded ${offset} bytes, planned ${size}`);
  return out;
}

export interface ForwardBatchLimits {
  commandsMax: number;
  commandBytesMax: number;
}

/**
 * Decodes a batch body. Commands are copies, not views: Raft keeps them in its log, and a view
 * would pin the whole request body in memory. Throws ForwardBatchFormatError.
 */
export function decodeForwardBatch(body: Uint8Array, limits: ForwardBatchLimits): ForwardedCommand[] {
  if (body.length < 2) throw new ForwardBatchFormatError(`a batch of ${body.length} bytes is too short`);
  if (body[0] !== FORWARD_BATCH_FORMAT_VERSION)
    throw new ForwardBatchFormatError(`unknown batch format version ${body[0]}`);
  const count = varintAt(body, 1, 'command count');
  if (count.value === 0) throw new ForwardBatchFormatError('the batch is empty');
  if (count.value > limits.commandsMax)
    throw new ForwardBatchFormatError(`${count.value} commands; at most ${limits.commandsMax}`);
  const commands: ForwardedCommand[] = [];
  let offset = count.next;
  for (let i = 0; i < count.value; i++) {
    const deadline = varintAt(body, offset, `command ${i}'s deadline`);
    if (deadline.value === 0) throw new ForwardBatchFormatError(`command ${i} has no time left`);
    const length = varintAt(body, deadline.next, `command ${i}'s length`);
    if (length.value === 0) throw new ForwardBatchFormatError(`command ${i} is empty`);
    if (length.value > limits.commandBytesMax)
      throw new ForwardBatchFormatError(
        `command ${i} is ${length.value} bytes; at most ${limits.commandBytesMax}`,
      );
    const end = length.next + length.value;
    if (end > body.length) throw new ForwardBatchFormatError(`command ${i} runs past the end`);
    commands.push({ deadlineMs: deadline.value, command: new Uint8Array(body.subarray(length.next, end)) });
    offset = end;
  }
  if (offset !== body.length)
    throw new ForwardBatchFormatError(`${body.length - offset} bytes after the last command`);
  return commands;
}

function varintAt(body: Uint8Array, offset: number, what: string): { value: number; next: number } {
  try {
    return readVarint(body, offset);
  } catch (error) {
    throw new ForwardBatchFormatError(`bad ${what}: ${(error as Error).message}`);
  }
}

/** Checks the leader's JSON answer before the follower trusts it; throws ForwardBatchFormatError. */
export function parseForwardBatchAnswer(body: Buffer, count: number): ForwardBatchAnswer {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new ForwardBatchFormatError(`the answer is not JSON: ${(error as Error).message}`);
  }
  const answer = parsed as Partial<ForwardBatchAnswer> | null;
  if (
    typeof answer !== 'object' ||
    answer === null ||
    typeof answer.term !== 'number' ||
    !(answer.leaderId === null || typeof answer.leaderId === 'string') ||
    !Array.isArray(answer.results)
  ) {
    throw new ForwardBatchFormatError('the answer lacks term, leaderId or results');
  }
  if (answer.results.length !== count)
    throw new ForwardBatchFormatError(`${answer.results.length} results for ${count} commands`);
  for (const result of answer.results as unknown[]) {
    const r = result as Record<string, unknown> | null;
    const known =
      typeof r === 'object' &&
      r !== null &&
      (r.retry === true ||
        (typeof r.outcome === 'object' && r.outcome !== null) ||
        (typeof r.problem === 'object' &&
          r.problem !== null &&
          typeof (r.problem as ForwardProblem).code === 'string' &&
          typeof (r.problem as ForwardProblem).status === 'number'));
    if (!known) throw new ForwardBatchFormatError(`unknown result ${JSON.stringify(result)}`);
  }
  return answer as ForwardBatchAnswer;
}
