// The vocabulary of the protocol: entries, messages, hard state, snapshots and the Ready batch
// the core hands to its caller (etcd-io/raft's raftpb, trimmed to what this library needs).

export type NodeId = string;

/** Entry types in wire and disk order (the type byte is the position). */
export const ENTRY_TYPES = ['normal', 'noop', 'conf'] as const;

/** 'normal' carries an application command; 'noop' is the entry a new leader appends in its
 *  own term (§5.4.2, §8); 'conf' carries a membership change (dissertation §4.1). */
export type EntryType = (typeof ENTRY_TYPES)[number];

/** Entry type -> its type byte (its position in ENTRY_TYPES), for the log, disk and wire. */
export const ENTRY_TYPE_CODE: ReadonlyMap<string, number> = new Map(ENTRY_TYPES.map((t, i) => [t, i]));

export interface Entry {
  index: number;
  term: number;
  type: EntryType;
  data: Uint8Array;
}

/** A single-server membership change (dissertation §4.1). `url` travels with the change so
 *  that every member learns how to reach the new one. */
export interface ConfChange {
  kind: 'addVoter' | 'addLearner' | 'remove';
  id: NodeId;
  url?: string;
}

export interface Member {
  id: NodeId;
  url?: string;
  voter: boolean;
}

/** Membership as of some log index: voters count for elections and commitment, learners
 *  only receive the log. */
export interface ConfState {
  members: Member[];
}

export interface SnapshotMeta {
  index: number;
  term: number;
  conf: ConfState;
}

export interface Snapshot {
  meta: SnapshotMeta;
  data: Uint8Array;
}

/** The state Raft must persist before answering (Figure 2: currentTerm, votedFor), plus the
 *  commit index so that a restart does not re-apply from zero before the leader speaks. */
export interface HardState {
  term: number;
  vote: NodeId | null;
  commit: number;
}

/** Every message type, in wire order: the peer stream's type byte is the position here, so
 *  new types are appended, never inserted (a mixed-version cluster must agree). */
export const MESSAGE_TYPES = [
  'preVote',
  'preVoteResp',
  'vote',
  'voteResp',
  'app',
  'appResp',
  'heartbeat',
  'heartbeatResp',
  'snap',
  'timeoutNow',
  'readIndex',
  'readIndexResp',
  /** A follower forwarding a client proposal to the leader (etcd's MsgProp). */
  'prop',
] as const;

export type MessageType = (typeof MESSAGE_TYPES)[number];

/** Message type -> its type byte on a peer stream (its position in MESSAGE_TYPES). */
export const MESSAGE_TYPE_CODE: ReadonlyMap<string, number> = new Map(MESSAGE_TYPES.map((t, i) => [t, i]));

export interface Message {
  type: MessageType;
  from: NodeId;
  to: NodeId;
  term: number;
  /** app: term of the entry at `index` (prevLogTerm); vote: candidate's last log term. */
  logTerm: number;
  /** app: prevLogIndex; appResp: last index matched (or the rejected prevLogIndex);
   *  vote: candidate's last log index; readIndexResp: the read index. */
  index: number;
  entries: Entry[];
  /** app/heartbeat: leader's commit index. */
  commit: number;
  reject: boolean;
  /** appResp rejections: the fast back-off hints (the follower's conflicting term and the
   *  first index it holds for that term, or its lastIndex + 1 when its log is too short). */
  hintIndex: number;
  hintTerm: number;
  /** heartbeat/readIndex: a read request id; vote: 'transfer' when forced by TimeoutNow. */
  context: string;
  snapshot?: Snapshot;
}

export type Role = 'follower' | 'precandidate' | 'candidate' | 'leader';

export interface ReadState {
  /** The commit index the read must wait to see applied. */
  index: number;
  context: string;
}

export interface SoftState {
  leaderId: NodeId | null;
  role: Role;
}

/** One batch of work for the caller. Order matters (etcd-io/raft's Ready contract):
 *  1. persist `snapshot`, `entries` and `hardState` (durably);
 *  2. then send `messages` (they may promise what step 1 wrote), or send them before or during
 *     step 1 when `Raft.canSendBeforePersist(rd)` says so (a leader's appends, diss. §10.2.1);
 *  3. apply `committedEntries` in order; 4. call `advance(ready)`. */
export interface Ready {
  softState: SoftState;
  hardState: HardState | null;
  entries: Entry[];
  snapshot: Snapshot | null;
  committedEntries: Entry[];
  messages: Message[];
  readStates: ReadState[];
}

export function emptyMessage(type: MessageType, from: NodeId, to: NodeId, term: number): Message {
  return {
    type,
    from,
    to,
    term,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    reject: false,
    hintIndex: 0,
    hintTerm: 0,
    context: '',
  };
}

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder();

export function encodeConfChange(cc: ConfChange): Uint8Array {
  return textEncoder.encode(JSON.stringify(cc));
}

export function decodeConfChange(data: Uint8Array): ConfChange {
  return JSON.parse(textDecoder.decode(data)) as ConfChange;
}
