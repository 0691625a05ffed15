// Multi-leader replication topologies (DDIA ch. 5, Figure 5-8): the paths along which a write
// travels from the leader that took it to every other leader. All-to-all sends it straight to
// everyone; circular sends it to the next leader in a ring, which passes it on; star sends it to
// one hub, which passes it to the rest. Every leader relays what is new to it (a state it had
// not seen), so a write crosses the ring or the star in several hops; a state it already has
// stops there, which is what keeps a change from circling for ever (the book tags writes with
// the nodes they passed; a version vector merge that changes nothing does the same job).
// The price of the sparse topologies is the book's: one failed leader on the ring, or the hub,
// cuts the others off from each other until it is back.
import type { NodeId } from './version-vector.js';

export const TOPOLOGIES = ['all-to-all', 'circular', 'star'] as const;
export type Topology = (typeof TOPOLOGIES)[number];

/**
 * The leaders `id` pushes its changes to: every other one (all-to-all), its successor in the
 * order of `nodes` (circular), or the hub, `nodes[0]`, which pushes to all others (star).
 */
export function pushTargets(topology: Topology, nodes: readonly NodeId[], id: NodeId): NodeId[] {
  const at = nodes.indexOf(id);
  if (at < 0) throw new RangeError(`${id} is not among the nodes`);
  const others = nodes.filter((node) => node !== id);
  if (topology === 'all-to-all' || others.length <= 1) return others;
  if (topology === 'circular') return [nodes[(at + 1) % nodes.length] as NodeId];
  const hub = nodes[0] as NodeId;
  return id === hub ? others : [hub];
}
