// `ddia check linearizable --html`: the timeline page, and the shortest failing prefix it draws.
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkLinearizable, relevantOperations } from '../src/checker/linearizability.js';
import { createCasRegisterModel } from '../src/checker/models/cas-register.js';
import { createKvModel } from '../src/checker/models/kv.js';
import { renderLinearizabilityHtml, shortestFailingPrefix } from '../src/checker/visualize.js';
import { generateKvHistory, type KvFault } from '../src/history/generate-kv.js';
import { parseJsonHistory } from '../src/history/parse-json.js';
import { runCheck } from './run-check.js';

const fixtures = fileURLToPath(new URL('./fixtures/histories/', import.meta.url));
const scratch = mkdtempSync(join(tmpdir(), 'ddia-html-'));

const escapeText = (text: string): string =>
  text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');

/** Nothing is fetched: no script, stylesheet, image or link to another address. */
function expectSelfContained(html: string): void {
  expect(html.startsWith('<!doctype html>')).toBe(true);
  expect(html).not.toMatch(/<script|<link|<img|src=|href=|@import|url\(/i);
}

/** `ddia check linearizable --model MODEL --format json --html OUT FILE...` */
const runHtml = (model: string, out: string, ...files: string[]) =>
  runCheck('linearizable', '--model', model, '--format', 'json', '--html', out, ...files);

describe('ddia check linearizable --html', () => {
  it('writes a self-contained timeline with the failing operations (DDIA Figure 9-1)', async () => {
    const out = join(scratch, 'stale.html');
    const r = await runHtml('cas-register', out, `${fixtures}stale-read.json`);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`timeline: ${out}`);
    const html = readFileSync(out, 'utf8');
    expectSelfContained(html);
    expect(html).toContain('stale-read.json: NOT linearizable');
    // The write, ordered first, and the stale read that completes the failure, with their roles.
    expect(html).toMatch(/class="op linearized"[^>]*title="process 0: write 1 \(line 2\)/);
    expect(html).toContain(`class="op straw" style=`);
    expect(html).toContain(escapeText('process 1: read -> nil'));
    expect(html).toContain('the first 4 events (up to line 5)');
    expect(html).toContain('<pre class="explanation">no linearization;');
    expect(html).not.toContain("<details><summary>the checker's explanation");
  });

  it('draws the linearization of a linearizable history, and one page per file for several files', async () => {
    const out = join(scratch, 'many.html');
    const a = `${fixtures}concurrent-valid.json`;
    const b = `${fixtures}kv-appends-valid.jsonl`;
    const r = await runHtml('kv', out, b);
    expect(r.code).toBe(0);
    const html = readFileSync(out, 'utf8');
    expectSelfContained(html);
    expect(html).toContain('A linearization: the numbers give the order');
    expect(html).toContain('<b>#1</b>');
    const two = await runHtml('cas-register', out, a, `${fixtures}stale-read.json`);
    expect(two.code).toBe(1);
    expect(readFileSync(join(scratch, 'many-concurrent-valid.json.html'), 'utf8')).toContain('linearizable');
    expect(readFileSync(join(scratch, 'many-stale-read.json.html'), 'utf8')).toContain('NOT linearizable');
  });

  it('exit 2 when the page cannot be written', async () => {
    const r = await runHtml('cas-register', '/nonexistent/dir/x.html', `${fixtures}stale-read.json`);
    expect(r.code).toBe(2);
    expect(r.err).toContain('/nonexistent/dir/x.html: cannot write');
  });
});

describe('the shortest failing prefix', () => {
  const model = createKvModel();
  const CASES: [number, KvFault][] = [
    [3, 'stale-read'],
    [4, 'lost-write'],
  ];
  for (const [seed, fault] of CASES) {
    it(`seed ${seed}, ${fault}: is not linearizable, one event less is, and the page draws the fault`, () => {
      const generated = generateKvHistory({ seed, clients: 20, keys: 3, operations: 600 }, fault);
      const bad = generated.bad!;
      const result = checkLinearizable(bad, model, { timeoutMs: 10_000 });
      expect(result.verdict).toBe('not-linearizable');
      const key = result.failure!.key;
      const ops = relevantOperations(bad, model).filter((op) => op.key === key);
      const shortest = shortestFailingPrefix(model, ops, performance.now() + 10_000)!;
      expect(shortest).toBeDefined();
      // Minimal: the history cut before the last straw's completion is linearizable.
      expect(checkLinearizable(bad.slice(0, shortest.cut), model).verdict).toBe('not-linearizable');
      expect(checkLinearizable(bad.slice(0, shortest.cut - 1), model).verdict).toBe('linearizable');
      // The fault is the first event where the bad twin differs from the good history.
      const firstChange = bad.findIndex((e, i) => JSON.stringify(e) !== JSON.stringify(generated.good[i]));
      expect(shortest.lastStraw.completeIndex, generated.faultDescription).toBeGreaterThanOrEqual(
        firstChange,
      );
      if (fault === 'stale-read') expect(shortest.lastStraw.completeIndex).toBe(firstChange);
      const html = renderLinearizabilityHtml(bad, model, result, { title: `seed ${seed}` });
      expectSelfContained(html);
      expect(html).toContain(escapeText(model.describeOperation(shortest.lastStraw)));
      // A long explanation is folded so that the timeline stays in view; a short one is not.
      expect(html.includes("<details><summary>the checker's explanation")).toBe(
        result.explanation!.length > 16,
      );
      for (const op of shortest.outcome.blocked ?? [])
        expect(html).toContain(escapeText(model.describeOperation(op)));
    });
  }

  it('is undefined for a linearizable history', () => {
    const events = parseJsonHistory(readFileSync(`${fixtures}concurrent-valid.json`, 'utf8'));
    const model = createCasRegisterModel();
    expect(
      shortestFailingPrefix(model, relevantOperations(events, model), performance.now() + 1000),
    ).toBeUndefined();
  });
});
