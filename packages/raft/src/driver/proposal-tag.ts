// Every normal entry's data is an envelope: varint tag length | tag | the application's command.
// A proposal made on the leader has an empty tag (its proposer waits on the log index). A
// follower that forwards a proposal to the leader (etcd's MsgProp) cannot know the index it
// will get, so it tags the proposal (this node's boot id + a sequence number) and recognises
// its entry by the tag when it applies it — the way etcd matches applied entries to waiting
// requests by request id. The state machine only ever sees the command. FORMAT.md documents it.
import { pooledBytes, readVarint, varintLength, writeVarint } from '@ddia/common';

/** The boot id's length: random per process (RaftNode's bootId), so tags of a restarted node
 *  never collide with its earlier ones. */
export const BOOT_ID_BYTES = 8;
const EMPTY = new Uint8Array(0);

export class ProposalTagger {
  private seq = 0;

  constructor(private readonly bootId: Uint8Array) {}

  /** A fresh tag for one forwarded proposal. */
  next(): Uint8Array {
    const tag = new Uint8Array(this.bootId.length + varintLength(++this.seq));
    tag.set(this.bootId, 0);
    writeVarint(tag, this.bootId.length, this.seq);
    return tag;
  }
}

/** The envelope lives in the in-memory log until the next snapshot, with up to --snapshot-entries
 *  others: pooled bytes (common's bytes.ts), freed with their neighbours as the log compacts. */
export function wrapCommand(command: Uint8Array, tag: Uint8Array = EMPTY): Uint8Array {
  const out = pooledBytes(varintLength(tag.length) + tag.length + command.length);
  let at = writeVarint(out, 0, tag.length);
  out.set(tag, at);
  at += tag.length;
  out.set(command, at);
  return out;
}

/** The tag as a Map key ('' when untagged) and the command (a view, not a copy). */
export function unwrapCommand(data: Uint8Array): { tag: string; command: Uint8Array } {
  const { value: length, next } = readVarint(data, 0);
  if (next + length > data.length) throw new RangeError('proposal tag overruns the entry');
  const tag = length === 0 ? '' : Buffer.from(data.buffer, data.byteOffset + next, length).toString('latin1');
  return { tag, command: data.subarray(next + length) };
}

export function tagKey(tag: Uint8Array): string {
  return Buffer.from(tag.buffer, tag.byteOffset, tag.byteLength).toString('latin1');
}
