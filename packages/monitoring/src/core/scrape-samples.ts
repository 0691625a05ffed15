// Turning one scrape of one target into samples, as Prometheus's scrape loop does: target
// labels are attached (a clash renames the exporter's label to exported_<name>), the synthetic
// series `up`, `scrape_duration_seconds` and `scrape_samples_scraped` are added, and every
// series the previous scrape had but this one lacks gets a staleness marker, so that queries
// stop returning it at once instead of for the 5-minute lookback.
import type { Exposition } from './exposition.js';
import { type Labels, METRIC_NAME, normalizeLabels } from './labels.js';

export interface ScrapedSample {
  labels: Labels;
  t: number;
  value: number;
  /** A staleness marker (special-values.ts): the series is gone from this scrape. */
  stale?: boolean;
}

export interface ScrapeOutcome {
  samples: ScrapedSample[];
  /**
   * The series this scrape produced, by their exposition key (ExpositionSample.key), with their
   * labels as stored (target labels attached): pass to the next scrape of the target.
   */
  seen: Map<string, Labels>;
}

/**
 * How far a scrape may start from its slot and still be stored at the slot's exact time
 * (Prometheus 2.41+, `--scrape.timestamp-tolerance`, default 2 ms).
 */
export const SCRAPE_TIMESTAMP_TOLERANCE_MS = 2;

/**
 * The timestamp a scrape's samples get. A scrape loop wakes a few ms off its grid; stored as is,
 * every sample's delta-of-delta is non-zero and costs 16 bits in Gorilla's smallest millisecond
 * bucket instead of 1 bit, which was two thirds of the bytes of a steady series. Within the
 * tolerance the scrape is stored at the previous timestamp plus the interval, as Prometheus does.
 */
export function alignedScrapeTime(previousMs: number | null, intervalMs: number, actualMs: number): number {
  if (previousMs === null) return actualMs;
  const slot = previousMs + intervalMs;
  return Math.abs(actualMs - slot) <= SCRAPE_TIMESTAMP_TOLERANCE_MS ? slot : actualMs;
}

export function targetLabels(labels: Labels, target: Record<string, string>): Labels {
  const out = new Map<string, string>();
  for (const [n, v] of labels) out.set(n, v);
  for (const [n, v] of Object.entries(target)) {
    const exported = out.get(n);
    if (exported !== undefined && n !== METRIC_NAME) out.set(`exported_${n}`, exported);
    out.set(n, v);
  }
  return normalizeLabels(out);
}

export function scrapeSamples(
  exposition: Exposition | null,
  target: Record<string, string>,
  scrapeTimeMs: number,
  durationS: number,
  previous: ReadonlyMap<string, Labels>,
): ScrapeOutcome {
  const samples: ScrapedSample[] = [];
  const seen = new Map<string, Labels>();
  for (const s of exposition?.samples ?? []) {
    // The previous scrape's object for the same exported series, as Prometheus's scrape cache
    // maps a series' text to its reference: no target labels attached, sorted or keyed again
    // (that was half the scrape's CPU), and the TSDB finds its series by the object's identity.
    // A scrape state keeps its target, so its labels, for its whole life (scraper.ts).
    const labels = previous.get(s.key) ?? targetLabels(s.labels, target);
    seen.set(s.key, labels);
    samples.push({ labels, t: s.timestampMs ?? scrapeTimeMs, value: s.value });
  }
  for (const [key, labels] of previous) {
    if (!seen.has(key)) samples.push({ labels, t: scrapeTimeMs, value: Number.NaN, stale: true });
  }
  const synthetic: [string, number][] = [
    ['up', exposition ? 1 : 0],
    ['scrape_duration_seconds', durationS],
    ['scrape_samples_scraped', exposition?.samples.length ?? 0],
  ];
  for (const [name, value] of synthetic) {
    samples.push({
      labels: normalizeLabels([...Object.entries(target), [METRIC_NAME, name]]),
      t: scrapeTimeMs,
      value,
    });
  }
  return { samples, seen };
}
