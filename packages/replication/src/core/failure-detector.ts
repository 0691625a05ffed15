// A timeout failure detector (DDIA ch. 8, "Detecting faults"): a peer is suspected when nothing
// has been heard from it for `suspectAfterMs`. Every message counts as a sign of life; pings
// keep quiet links warm. Suspicion is a guess: a slow peer looks exactly like a dead one.
import type { NodeId } from './version-vector.js';

export class FailureDetector {
  private readonly lastHeardMs = new Map<NodeId, number>();

  constructor(
    peers: readonly NodeId[],
    startMs: number,
    private readonly suspectAfterMs: number,
  ) {
    // Everyone is presumed alive at start: the first requests go to the home replicas.
    for (const peer of peers) this.lastHeardMs.set(peer, startMs);
  }

  heard(peer: NodeId, nowMs: number): void {
    if (this.lastHeardMs.has(peer)) this.lastHeardMs.set(peer, nowMs);
  }

  alive(peer: NodeId, nowMs: number): boolean {
    const last = this.lastHeardMs.get(peer);
    return last !== undefined && nowMs - last < this.suspectAfterMs;
  }
}
