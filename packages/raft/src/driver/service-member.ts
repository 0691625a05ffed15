// The part of a RaftNode's options that every lab service running a Raft group shares (the
// kv-store's data group, partitioning's controller group): who the member is and how it reaches
// its peers, whether it founds the group or joins it, its timing, and the safety settings.
import type { BaseConfig } from '@ddia/common';
import { HttpTransport } from '../transport/http-transport.js';
import type { RaftNodeOptions } from './raft-node.js';

/** The values of common's `raftMemberFlags` (--tick-ms, --election-ticks, --join). */
export interface RaftMemberFlagValues {
  'tick-ms': number;
  'election-ticks': number;
  join: boolean;
}

type ServiceMemberOptions = Pick<
  RaftNodeOptions,
  | 'id'
  | 'members'
  | 'join'
  | 'transport'
  | 'tickMs'
  | 'electionTicks'
  | 'heartbeatTicks'
  | 'preVote'
  | 'checkQuorum'
>;

type MemberConfig = Pick<BaseConfig, 'id' | 'host' | 'port' | 'peers'>;

/** The group's members as the flags name them: --peers (this node included), or this node
 *  alone at its own address. */
export function serviceMembers(config: MemberConfig): { id: string; url: string }[] {
  if (config.peers.length > 0) return config.peers;
  return [{ id: config.id, url: `http://${config.host}:${config.port}` }];
}

/**
 * A node started with --join founds nothing and learns the membership from the leader. Peers
 * are reached over HTTP on their service port. Pre-vote and check-quorum keep a partitioned
 * node from disrupting the group or from leading without a majority; a heartbeat goes every
 * tick.
 */
export function serviceMemberOptions(
  config: MemberConfig & { extra: RaftMemberFlagValues },
): ServiceMemberOptions {
  const members = serviceMembers(config);
  const peers = Object.fromEntries(members.filter((m) => m.id !== config.id).map((m) => [m.id, m.url]));
  return {
    id: config.id,
    members: config.extra.join ? [] : members,
    join: config.extra.join,
    transport: new HttpTransport({ self: config.id, peers }),
    tickMs: config.extra['tick-ms'],
    electionTicks: config.extra['election-ticks'],
    heartbeatTicks: 1,
    preVote: true,
    checkQuorum: true,
  };
}
