import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { constant } from '../src/core/distributions.js';
import { ExperimentUsageError, listExperiments, runExperiment } from '../src/experiments/index.js';
import { barChart, linePlot, niceTicks } from '../src/report/svg-plot.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'geo-exp-'));
  dirs.push(dir);
  return dir;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** Every opened tag is closed (a rough well-formedness check of our generated SVG). */
function balanced(svg: string): boolean {
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, close, tag, selfClose] = m;
    if (selfClose) continue;
    if (close) {
      if (stack.pop() !== tag) return false;
    } else stack.push(tag!);
  }
  return stack.length === 0;
}

describe('experiments', () => {
  it('lists every experiment with a name and a description', () => {
    const list = listExperiments();
    expect(list.map((e) => e.name)).toEqual([
      'pbs-paper',
      'pbs-sweep',
      'quorum-levels',
      'quorum-levels-measured',
      'proxy-latency',
      'raft-regions',
      'leaderless-visibility',
      'visibility-tail',
      'leader-failover',
    ]);
    for (const e of list) expect(e.description.length).toBeGreaterThan(20);
  });

  it('pbs-sweep writes report.md and a plot, reports progress, and replays from its seed', async () => {
    const out1 = await tempDir();
    const out2 = await tempDir();
    const progress: number[] = [];
    const r1 = await runExperiment('pbs-sweep', {
      out: out1,
      seed: 5,
      profile: 'lnkd-ssd',
      quick: true,
      onProgress: (p) => progress.push(p.fraction),
    });
    await runExperiment('pbs-sweep', { out: out2, seed: 5, profile: 'lnkd-ssd', quick: true });
    const md = await readFile(r1.reportPath, 'utf8');
    expect(md).toContain('| N ');
    expect(md).toContain('![sweep lnkd-ssd](sweep-lnkd-ssd.svg)');
    expect(r1.files).toEqual(['sweep-lnkd-ssd.svg', 'report.md']);
    expect(md).toBe(await readFile(join(out2, 'report.md'), 'utf8'));
    expect(progress.at(-1)).toBe(1);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
    // Strict quorums show 100% at t = 0 in the table.
    expect(md).toMatch(/\| 3 +\| 2 +\| 2 +\| strict +\| 100\.00% /);
    expect(balanced(await readFile(join(out1, 'sweep-lnkd-ssd.svg'), 'utf8'))).toBe(true);
  });

  it('takes a custom WARS profile from a JSON file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'custom.json');
    const d = constant(1);
    await writeFile(file, JSON.stringify({ name: 'flat', w: d, a: d, r: d, s: d }));
    const r = await runExperiment('pbs-sweep', { out: join(dir, 'out'), profile: file, quick: true });
    // Constant latencies: every read is consistent at t = 0, whatever the quorum.
    expect(r.markdown).toContain('## flat');
    expect(r.markdown).not.toMatch(/partial +\| (?!100\.00%)/);
  });

  it('refuses bad input with a usage error naming the problem', async () => {
    const out = await tempDir();
    await expect(runExperiment('nope', { out })).rejects.toThrow(/unknown experiment 'nope'/);
    await expect(runExperiment('pbs-sweep', { out, profile: 'mars' })).rejects.toThrow(ExperimentUsageError);
    await expect(runExperiment('pbs-sweep', { out, regions: 'us' })).rejects.toThrow(/2\.\.8 regions/);
    await expect(runExperiment('raft-regions', { out, regions: 'us,xx' })).rejects.toThrow(
      /no WAN round-trip/,
    );
    await expect(runExperiment('pbs-sweep', { out, seed: -1 })).rejects.toThrow(/--seed/);
    const bad = join(out, 'bad.json');
    await writeFile(bad, JSON.stringify({ w: { kind: 'pareto', xmMs: -1, alpha: 2 }, a: {}, r: {}, s: {} }));
    await expect(runExperiment('pbs-sweep', { out, profile: bad })).rejects.toThrow(/xmMs/);
  });
});

describe('svg plots', () => {
  it('draws one polyline per series, escapes text, and is deterministic', () => {
    const plot = {
      title: 'a <b> & "c"',
      xLabel: 't',
      yLabel: 'p',
      series: [
        {
          name: 'one',
          points: [
            { x: 1, y: 0.5 },
            { x: 10, y: 0.9 },
          ],
        },
        {
          name: 'two',
          points: [
            { x: 1, y: 0.2 },
            { x: 100, y: 1 },
          ],
          dashed: true,
        },
      ],
      xLog: true,
    };
    const svg = linePlot(plot);
    expect(svg).toBe(linePlot(plot));
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('a &#60;b&#62; &#38; &#34;c&#34;');
    expect(balanced(svg)).toBe(true);
    const bars = barChart({
      title: 'b',
      yLabel: 'ms',
      categories: ['x', 'y'],
      series: [{ name: 's', values: [1, 2] }],
    });
    expect(bars.match(/<rect x/g)!.length).toBeGreaterThanOrEqual(2);
    expect(balanced(bars)).toBe(true);
  });

  it('picks round ticks', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 230, 5)).toEqual([0, 50, 100, 150, 200]);
  });
});
