import {
  ConfChangeInProgressError,
  LeadershipTransferInProgressError,
  NotLeaderError,
  ProposalDroppedError,
  ProposalNotCommittedError,
  RaftErrors,
  RaftStoppedError,
  RaftTimeoutError,
} from '@ddia/raft';
import { describe, expect, it } from 'vitest';
import { classifyConsensusError } from '../src/cluster/consensus.js';

describe("classifying Raft's errors by code", () => {
  it('maps every Raft failure a write can meet to what the client may do', () => {
    expect(classifyConsensusError(new NotLeaderError('n2', 'http://n2', 3))).toEqual({
      kind: 'not_leader',
      leaderId: 'n2',
      leaderUrl: 'http://n2',
    });
    expect(classifyConsensusError(new LeadershipTransferInProgressError()).kind).toBe('busy');
    expect(classifyConsensusError(new ProposalNotCommittedError('lost')).kind).toBe('busy');
    expect(classifyConsensusError(new ConfChangeInProgressError()).kind).toBe('conf_change_in_progress');
    expect(classifyConsensusError(new ProposalDroppedError('dropped')).kind).toBe('unknown');
    expect(classifyConsensusError(new RaftTimeoutError('propose', 10)).kind).toBe('unknown');
    expect(classifyConsensusError(new RaftStoppedError()).kind).toBe('stopped');
  });

  it('goes by the code, not the class name: a renamed class or a plain object with the code still match', () => {
    const renamed = Object.assign(new Error('moved'), {
      name: 'SomethingElse',
      code: RaftErrors.stopped.code,
    });
    expect(classifyConsensusError(renamed).kind).toBe('stopped');
    const fromHttp = {
      code: RaftErrors.notLeader.code,
      leaderId: 'n1',
      leaderUrl: 'http://n1',
      message: 'x',
    };
    expect(classifyConsensusError(fromHttp).kind).toBe('not_leader');
    const sameNameNoCode = Object.assign(new Error('look-alike'), { name: 'RaftStoppedError' });
    expect(classifyConsensusError(sameNameNoCode).kind).toBe('other');
  });
});
