// The WARS model of visibility-tail's placement: one replica per region, N = regions, R = W = 1,
// the write coordinated by the node in writeRegion, the read by the node in readRegion, and the
// times taken where the experiment takes them: at the client, which reaches each coordinator
// through a link of its own.
//
// PBS (§5.3) feeds the model the latencies measured on the running system, processing included.
// Here a message between regions also waits for `hop`: the time the processes on its path take to
// be scheduled and handle it, beyond the injected delay (measured during the run by a ping-pong).
// The client's own legs take time too (`ack`: the write's answer on its way back to the client;
// `probe`: a read on its way to its node and back, each way): a late ack starts the probes later
// and a late probe reaches its node later, so both shorten the measured threshold, while a late
// write lengthens it.
import type { Random } from '@ddia/common/core';
import { constant, type Distribution, sum } from './distributions.js';
import { type LatencyMatrix, linkDelay, linkDistribution } from './latency-matrix.js';
import { type ReplicaLatencies, simulateWars, type WarsResult } from './wars.js';

/** What a message takes beyond the injected delay, by the leg it travels. */
export interface TailLateness {
  /** Every message between two regions' nodes. */
  hop: Distribution;
  /** The write's ack, from its node to the client. */
  ack: Distribution;
  /** A probe from the client to the read's node, and its answer back (each). */
  probe: Distribution;
}

/** Zero lateness everywhere: the model sees only the injected link delays. */
export const NO_LATENESS: TailLateness = { hop: constant(0), ack: constant(0), probe: constant(0) };

/** Replica latencies of the placement. */
export function tailReplicas(
  matrix: LatencyMatrix,
  regions: readonly string[],
  writeRegion: string,
  readRegion: string,
  lateness: TailLateness,
): ReplicaLatencies[] {
  const hop = (from: string, to: string): Distribution =>
    sum(linkDistribution(linkDelay(matrix, from, to)), lateness.hop);
  return regions.map((replica) => ({
    // The coordinator's own replica has the write at once; the others one hop later.
    w: replica === writeRegion ? constant(0) : hop(writeRegion, replica),
    // Acks end at the client: the coordinator answers it over the client's link.
    a: replica === writeRegion ? lateness.ack : sum(hop(replica, writeRegion), lateness.ack),
    // Reads start at the client: the probe first crosses the client's link to the read's node.
    r: replica === readRegion ? lateness.probe : sum(lateness.probe, hop(readRegion, replica)),
    s: replica === readRegion ? lateness.probe : sum(hop(replica, readRegion), lateness.probe),
  }));
}

export function tailModel(
  matrix: LatencyMatrix,
  regions: readonly string[],
  writeRegion: string,
  readRegion: string,
  lateness: TailLateness,
  trials: number,
  random: Random,
): WarsResult {
  const zero = constant(0);
  return simulateWars(
    {
      n: regions.length,
      r: 1,
      w: 1,
      trials,
      profile: { name: 'injected', description: 'injected delays', w: zero, a: zero, r: zero, s: zero },
      replicas: tailReplicas(matrix, regions, writeRegion, readRegion, lateness),
    },
    random,
  );
}
