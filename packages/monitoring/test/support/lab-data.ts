// Seeded synthetic "lab" series for the differential test against Prometheus: counters (with a
// reset), gauges (random walk), cumulative histogram buckets and an info metric, sampled every
// ~15 s with jitter and gaps. The same samples go into Prometheus (as an OpenMetrics file for
// `promtool tsdb create-blocks-from openmetrics`) and into ours.
import { type Labels, normalizeLabels } from '../../src/core/labels.js';

export interface LabSeries {
  family: string;
  type: 'counter' | 'gauge';
  labels: Labels;
  timestamps: number[];
  values: number[];
}

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const LE_BOUNDS = ['0.05', '0.1', '0.5', '1', '+Inf'];

/** Samples from `startMs` for `durationMs`; timestamps are whole milliseconds. */
export function labData(seed: number, startMs: number, durationMs: number, stepMs = 15_000): LabSeries[] {
  const rand = mulberry32(seed);
  const out: LabSeries[] = [];
  const times = (gapEvery: number): number[] => {
    const ts: number[] = [];
    for (let t = startMs, i = 0; t < startMs + durationMs; t += stepMs, i++) {
      if (gapEvery > 0 && i % gapEvery === gapEvery - 1) continue; // a missed scrape
      ts.push(t + Math.floor(rand() * 2000) - 1000);
    }
    return ts;
  };
  const jobs = ['api', 'db'];
  const instances = ['i1', 'i2', 'i3'];
  for (const job of jobs) {
    for (const instance of instances) {
      for (const code of ['200', '500']) {
        const timestamps = times(code === '500' ? 7 : 0);
        let v = Math.floor(rand() * 100);
        const values = timestamps.map((_, i) => {
          // One counter restarts half-way: rate() must see a reset, not a negative rate.
          if (job === 'api' && instance === 'i2' && code === '200' && i === Math.floor(timestamps.length / 2))
            v = 0;
          v += Math.floor(rand() * (code === '200' ? 40 : 4));
          return v;
        });
        out.push({
          family: 'lab_requests',
          type: 'counter',
          labels: normalizeLabels([
            ['__name__', 'lab_requests_total'],
            ['job', job],
            ['instance', instance],
            ['code', code],
          ]),
          timestamps,
          values,
        });
      }
      const tt = times(11);
      let temp = 18 + Math.floor(rand() * 50) / 10;
      out.push({
        family: 'lab_temperature',
        type: 'gauge',
        labels: normalizeLabels([
          ['__name__', 'lab_temperature'],
          ['job', job],
          ['instance', instance],
        ]),
        timestamps: tt,
        values: tt.map(() => {
          temp = Math.round((temp + (rand() - 0.5) * 2) * 10) / 10;
          return temp;
        }),
      });
      const ht = times(0);
      const counts = LE_BOUNDS.map(() => 0);
      const bucketValues: number[][] = LE_BOUNDS.map(() => []);
      for (let i = 0; i < ht.length; i++) {
        const observations = Math.floor(rand() * 30);
        for (let o = 0; o < observations; o++) {
          const x = rand() ** 2 * 1.5;
          LE_BOUNDS.forEach((le, b) => {
            if (le === '+Inf' || x <= Number(le)) counts[b]!++;
          });
        }
        LE_BOUNDS.forEach((_, b) => {
          bucketValues[b]!.push(counts[b]!);
        });
      }
      LE_BOUNDS.forEach((le, b) => {
        out.push({
          family: 'lab_latency_seconds_bucket',
          type: 'gauge',
          labels: normalizeLabels([
            ['__name__', 'lab_latency_seconds_bucket'],
            ['job', job],
            ['instance', instance],
            ['le', le],
          ]),
          timestamps: ht,
          values: bucketValues[b]!,
        });
      });
    }
  }
  for (const instance of instances) {
    const it = times(0);
    out.push({
      family: 'lab_info',
      type: 'gauge',
      labels: normalizeLabels([
        ['__name__', 'lab_info'],
        ['instance', instance],
        ['version', `v1.${instance.slice(1)}`],
      ]),
      timestamps: it,
      values: it.map(() => 1),
    });
  }
  return out;
}

function escapeLabel(v: string): string {
  return v.replaceAll('\\', '\\\\').replaceAll('\n', '\\n').replaceAll('"', '\\"');
}

/** The series as an OpenMetrics text file (timestamps in seconds), families kept together. */
export function toOpenMetrics(series: readonly LabSeries[]): string {
  const lines: string[] = [];
  const families = new Map<string, LabSeries[]>();
  for (const s of series) {
    const list = families.get(s.family) ?? [];
    list.push(s);
    families.set(s.family, list);
  }
  for (const [family, list] of families) {
    lines.push(`# TYPE ${family} ${list[0]!.type}`);
    for (const s of list) {
      const name = s.labels.find(([n]) => n === '__name__')![1];
      const labels = s.labels
        .filter(([n]) => n !== '__name__')
        .map(([n, v]) => `${n}="${escapeLabel(v)}"`)
        .join(',');
      for (let i = 0; i < s.timestamps.length; i++) {
        lines.push(`${name}{${labels}} ${s.values[i]} ${(s.timestamps[i]! / 1000).toFixed(3)}`);
      }
    }
  }
  lines.push('# EOF', '');
  return lines.join('\n');
}
