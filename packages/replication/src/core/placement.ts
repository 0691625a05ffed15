// Which replicas hold a key: rendezvous (highest-random-weight) hashing over the member ids.
// The first N are the key's home replicas (Dynamo's preference list); the rest, in order, are
// the stand-ins a sloppy quorum borrows when home replicas are unreachable.
import { crc32c } from '@ddia/common/core';
import type { NodeId } from './version-vector.js';

const encoder = new TextEncoder();

export function hashText(text: string): number {
  return crc32c(encoder.encode(text)) >>> 0;
}

/** Every member, in the key's order of preference. */
export function preferenceOrder(key: string, nodes: readonly NodeId[]): NodeId[] {
  return nodes
    .map((node) => ({ node, score: hashText(`${node}\u0000${key}`) }))
    .sort((a, b) => b.score - a.score || (a.node < b.node ? -1 : 1))
    .map((x) => x.node);
}

export function homeReplicas(key: string, nodes: readonly NodeId[], n: number): NodeId[] {
  return preferenceOrder(key, nodes).slice(0, n);
}
