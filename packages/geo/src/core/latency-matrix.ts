// Regions and the one-way delay between them. A matrix entry is one directed link: bytes from a
// node in `from` to a node in `to` wait latencyMs ± jitterMs (uniform), which is what testkit's
// fault proxy and `tc netem delay X Y` both inject, and lossPct% of them are lost. Nodes inside
// one region see `intra`.
import { constant, type Distribution, DistributionError, mixture, shifted } from './distributions.js';

export interface LinkDelay {
  latencyMs: number;
  jitterMs: number;
  /**
   * Percentage of messages lost on this directed link (absent: 0). Over TCP a loss is a delay:
   * the segment is retransmitted after a timeout (testkit's proxy models exactly that).
   */
  lossPct?: number;
}

/** Loss above this stalls links for minutes; testkit's proxy refuses more too. */
export const LOSS_PCT_MAX = 50;
/** Linux's minimum TCP retransmission timeout (testkit's proxy: TCP_RTO_MIN_MS). */
export const TCP_RTO_MIN_MS = 200;
/** Retries the model follows (the proxy follows up to 15; beyond 6 the probability is negligible). */
const LOSS_RETRIES_MODELLED = 6;

/**
 * The one-way delay of a message on a link as a distribution, loss included: with probability
 * (1 - p) it arrives after latency ± jitter; a lost transmission adds a retransmission timeout
 * (max(200 ms, 2 * (latency + jitter))), doubling per retry, as testkit's proxy injects it.
 */
export function linkDistribution(d: LinkDelay): Distribution {
  const base = constant(d.latencyMs, d.jitterMs);
  const p = (d.lossPct ?? 0) / 100;
  if (p <= 0) return base;
  const rto = Math.max(TCP_RTO_MIN_MS, 2 * (d.latencyMs + d.jitterMs));
  const components: [number, Distribution][] = [];
  let extra = 0;
  let step = rto;
  for (let retries = 0; retries <= LOSS_RETRIES_MODELLED; retries++) {
    // Exactly `retries` losses, then a delivery.
    components.push([p ** retries * (1 - p), extra === 0 ? base : shifted(extra, base)]);
    extra += step;
    step *= 2;
  }
  return mixture(...components);
}

export interface LatencyMatrix {
  name: string;
  regions: string[];
  /** links[from][to], for from !== to. */
  links: Record<string, Record<string, LinkDelay>>;
  /** One-way delay between two nodes of the same region. */
  intra: LinkDelay;
}

export const REGIONS_MAX = 8;
const REGION_ID = /^[a-z][a-z0-9-]{0,15}$/;

/**
 * Round-trip times between cloud regions, in ms, as public inter-region ping tables show them
 * (rounded): us = us-east (Virginia), usw = us-west (Oregon), eu = eu-west (Ireland),
 * ap = ap-northeast (Tokyo), sa = sa-east (São Paulo). One-way delay is half the RTT.
 */
export const WAN_RTT_MS: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  us: { usw: 66, eu: 76, ap: 148, sa: 116 },
  usw: { us: 66, eu: 130, ap: 98, sa: 176 },
  eu: { us: 76, usw: 130, ap: 212, sa: 184 },
  ap: { us: 148, usw: 98, eu: 212, sa: 256 },
  sa: { us: 116, usw: 176, eu: 184, ap: 256 },
};

export const KNOWN_REGIONS = Object.keys(WAN_RTT_MS);
/** Jitter as a fraction of the one-way delay (long-haul links vary by a few percent). */
export const WAN_JITTER_FRACTION = 0.05;

export function parseRegions(list: string | readonly string[]): string[] {
  const regions = (typeof list === 'string' ? list.split(',') : [...list])
    .map((r) => r.trim())
    .filter(Boolean);
  if (regions.length < 2 || regions.length > REGIONS_MAX)
    throw new DistributionError(`--regions needs 2..${REGIONS_MAX} regions, got ${regions.length}`);
  for (const r of regions)
    if (!REGION_ID.test(r)) throw new DistributionError(`region '${r}' must match ${REGION_ID.source}`);
  if (new Set(regions).size !== regions.length) throw new DistributionError('a region is listed twice');
  return regions;
}

/**
 * The WAN matrix for the given regions. scale multiplies every delay: experiments that must stay
 * within a few minutes can run the same shape at a fraction of the real distances.
 */
export function wanMatrix(regions: readonly string[], scale = 1): LatencyMatrix {
  if (!(scale > 0 && scale <= 10)) throw new DistributionError('scale must be in (0, 10]');
  const links: LatencyMatrix['links'] = {};
  for (const from of regions) {
    links[from] = {};
    for (const to of regions) {
      if (from === to) continue;
      const rtt = WAN_RTT_MS[from]?.[to];
      if (rtt === undefined)
        throw new DistributionError(
          `no WAN round-trip time known for ${from} -> ${to} (known regions: ${KNOWN_REGIONS.join(', ')}); give a custom matrix`,
        );
      const oneWay = (rtt / 2) * scale;
      links[from]![to] = { latencyMs: round2(oneWay), jitterMs: round2(oneWay * WAN_JITTER_FRACTION) };
    }
  }
  return {
    name: scale === 1 ? 'wan' : `wan×${scale}`,
    regions: [...regions],
    links,
    intra: { latencyMs: 0.25, jitterMs: 0 },
  };
}

/** Validates a matrix given as JSON (a custom profile): every ordered pair must be present. */
export function validateMatrix(m: LatencyMatrix): LatencyMatrix {
  if (typeof m !== 'object' || m === null) throw new DistributionError('matrix must be an object');
  const regions = parseRegions(m.regions);
  const check = (d: LinkDelay | undefined, where: string) => {
    if (!d || !Number.isFinite(d.latencyMs) || d.latencyMs < 0 || d.latencyMs > 60_000)
      throw new DistributionError(`${where}.latencyMs must be within 0..60000`);
    if (!Number.isFinite(d.jitterMs) || d.jitterMs < 0 || d.jitterMs > 60_000)
      throw new DistributionError(`${where}.jitterMs must be within 0..60000`);
    if (d.lossPct !== undefined && (!Number.isFinite(d.lossPct) || d.lossPct < 0 || d.lossPct > LOSS_PCT_MAX))
      throw new DistributionError(`${where}.lossPct must be within 0..${LOSS_PCT_MAX}`);
  };
  for (const from of regions)
    for (const to of regions) if (from !== to) check(m.links?.[from]?.[to], `links.${from}.${to}`);
  check(m.intra, 'intra');
  return { name: String(m.name ?? 'custom'), regions, links: m.links, intra: m.intra };
}

export function linkDelay(m: LatencyMatrix, from: string, to: string): LinkDelay {
  if (from === to) return m.intra;
  const d = m.links[from]?.[to];
  if (!d) throw new DistributionError(`no link ${from} -> ${to} in matrix ${m.name}`);
  return d;
}

/** Round-trip time between two regions (mean, without jitter). */
export function rttMs(m: LatencyMatrix, a: string, b: string): number {
  return linkDelay(m, a, b).latencyMs + linkDelay(m, b, a).latencyMs;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
