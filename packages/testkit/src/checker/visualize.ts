// A linearizability check as a picture, in the spirit of Porcupine's visualizer: one
// self-contained HTML file (inline CSS, no script, nothing fetched) with a timeline per key. Each
// client process is a row; each operation a bar from its invocation to its completion (an
// operation of unknown outcome runs off the right edge). Linearized operations carry their
// place in the order and the state after them, and a line through their linearization points
// shows the order in time.
//
// When the history is NOT linearizable, the picture shows the shortest failing part of it:
// the shortest prefix of the failing key's history (cut at a completion) that has no
// linearization. Prefixes are monotone (a linearization of a longer prefix restricted to a
// shorter one is a linearization of it, with operations still open at the cut left pending),
// so a binary search over the completions finds it. The completion at the cut is the last straw:
// everything before it can be ordered, and with it nothing can.

import type { HistoryEvent, Operation } from '../history/event.js';
import { type LinearizabilityResult, relevantOperations } from './linearizability.js';
import { MemoBudget } from './memo-table.js';
import { INCONSISTENT, type Model } from './model.js';
import { type SearchOutcome, WglSearch } from './wgl-search.js';

/** A timeline shows at most this many operations (those nearest the failure). */
export const TIMELINE_OPERATIONS_MAX = 300;
/** Linearizable histories: at most this many keys are drawn. */
const TIMELINE_KEYS_MAX = 12;
/** Linearized operations before the failure's window that are still drawn, for context. */
const CONTEXT_OPERATIONS = 12;
const SEARCH_SLICE_STEPS = 20_000;
/** A longer explanation is folded under a <details>. */
const EXPLANATION_LINES_OPEN = 16;
const MEMO_BYTES_MAX = 256 * 1024 * 1024;
/** Pixels per distinct event time on the x axis, and per process row. */
const UNIT_PX = 40;
const ROW_PX = 34;

export interface ShortestFailure<S> {
  /** The failing prefix's operations (those open at the cut as unknown outcome). */
  operations: Operation[];
  /** The history's events before this index make up the prefix. */
  cut: number;
  /** The operation whose completion (event cut - 1) makes the prefix fail. */
  lastStraw: Operation;
  /** The search on the failing prefix: longest ordered prefix, blocked operations. */
  outcome: SearchOutcome<S>;
}

/** The partition's history cut before event `cut`; operations open at the cut become unknown. */
function cutAt<S>(operations: readonly Operation[], cut: number, model: Model<S>): Operation[] {
  const out: Operation[] = [];
  for (const op of operations) {
    if (op.invokeIndex >= cut) continue;
    if (op.completeIndex < cut) {
      out.push(op);
      continue;
    }
    if (model.isReadOnly(op)) continue; // an unknown read constrains nothing
    out.push({
      ...op,
      status: 'info',
      output: undefined,
      completeIndex: Number.POSITIVE_INFINITY,
      completeMs: Number.POSITIVE_INFINITY,
    });
  }
  return model.pruneUnobservable?.(out) ?? out;
}

function search<S>(
  model: Model<S>,
  operations: Operation[],
  deadlineMs: number,
): SearchOutcome<S> | undefined {
  const s = new WglSearch(model, operations, new MemoBudget(MEMO_BYTES_MAX));
  for (;;) {
    const outcome = s.advance(SEARCH_SLICE_STEPS);
    if (outcome !== undefined) return outcome.verdict === 'unknown' ? undefined : outcome;
    if (performance.now() > deadlineMs) return undefined;
  }
}

/**
 * The shortest prefix of one key's operations that is not linearizable, by binary search over
 * the completions. Undefined when the operations are linearizable or a search runs past
 * `deadlineMs`.
 */
export function shortestFailingPrefix<S>(
  model: Model<S>,
  operations: readonly Operation[],
  deadlineMs: number,
): ShortestFailure<S> | undefined {
  const cuts = [
    ...new Set(operations.filter((op) => op.status === 'ok').map((op) => op.completeIndex + 1)),
  ].sort((a, b) => a - b);
  if (cuts.length === 0) return undefined;
  const attempt = (cut: number) => {
    const ops = cutAt(operations, cut, model);
    return { cut, ops, outcome: search(model, ops, deadlineMs) };
  };
  // Invariant: the prefix before cuts[lo - 1] (or the empty one) is linearizable, cuts[hi] not.
  let lo = 0;
  let hi = cuts.length - 1;
  let failing = attempt(cuts[hi]);
  if (failing.outcome?.verdict !== 'not-linearizable') return undefined;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const tried = attempt(cuts[mid]);
    if (tried.outcome === undefined) return undefined;
    if (tried.outcome.verdict === 'not-linearizable') {
      hi = mid;
      failing = tried;
    } else {
      lo = mid + 1;
    }
  }
  const lastStraw = operations.find((op) => op.completeIndex === failing.cut - 1)!;
  return { operations: failing.ops, cut: failing.cut, lastStraw, outcome: failing.outcome! };
}

export interface HtmlOptions {
  /** The page title (e.g. the file name). */
  title?: string;
  /** Budget for the shortest-failing-prefix search (default 10 s). */
  timeoutMs?: number;
  /** The file line of each event, for tooltips. */
  lines?: readonly number[];
}

type Role = 'linearized' | 'blocked' | 'must' | 'straw' | 'other';

interface Section {
  heading: string;
  notes: string[];
  operations: Operation[];
  /** Linearization order (0-based) of ordered operations, and the state after each. */
  order: Map<number, { index: number; state: string }>;
  roles: Map<number, Role>;
  /** Operations before the window, left out of the picture. */
  hidden: number;
}

/** Renders the check of `history` as a self-contained HTML page. */
export function renderLinearizabilityHtml<S>(
  history: readonly HistoryEvent[],
  model: Model<S>,
  result: LinearizabilityResult,
  options: HtmlOptions = {},
): string {
  const byKey = new Map<string, Operation[]>();
  for (const p of model.partition(relevantOperations(history, model))) byKey.set(p.key ?? '', p.operations);
  const sections: Section[] = [];
  const summary: string[] = [];
  if (result.verdict === 'not-linearizable' && result.failure !== undefined) {
    const ops = byKey.get(result.failure.key ?? '') ?? [];
    const deadline = performance.now() + (options.timeoutMs ?? 10_000);
    const shortest = shortestFailingPrefix(model, ops, deadline);
    sections.push(failureSection(model, result, ops, shortest, options.lines));
  } else {
    for (const p of result.partitions.slice(0, TIMELINE_KEYS_MAX)) {
      sections.push(orderSection(model, p.key, byKey.get(p.key ?? '') ?? [], p.linearization ?? []));
    }
    if (result.partitions.length > TIMELINE_KEYS_MAX) {
      summary.push(`${result.partitions.length - TIMELINE_KEYS_MAX} more keys not drawn.`);
    }
  }
  const verdict =
    result.verdict === 'linearizable'
      ? 'linearizable'
      : result.verdict === 'not-linearizable'
        ? 'NOT linearizable'
        : 'unknown (the search gave up)';
  const title = `${options.title ?? 'history'}: ${verdict}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<style>${CSS}</style></head><body>
<h1>${escapeHtml(title)}</h1>
<p>${result.operationCount} operations, model <code>${escapeHtml(result.model)}</code>, ${result.partitionCount} partition(s), checked in ${result.elapsedMs.toFixed(0)} ms. ${summary.map(escapeHtml).join(' ')}</p>
${LEGEND}
${explanationHtml(result.explanation)}
${sections.map((s) => renderSection(model, s, options.lines)).join('\n')}
</body></html>
`;
}

/** The checker's explanation; a long one (a long prefix) folded, so the timeline stays in view. */
function explanationHtml(lines: string[] | undefined): string {
  if (lines === undefined) return '';
  const pre = `<pre class="explanation">${escapeHtml(lines.join('\n'))}</pre>`;
  if (lines.length <= EXPLANATION_LINES_OPEN) return pre;
  return `<details><summary>the checker's explanation (${lines.length} lines: ${escapeHtml(lines[0])})</summary>${pre}</details>`;
}

function stateDescriptions<S>(
  model: Model<S>,
  order: readonly Operation[],
): Map<number, { index: number; state: string }> {
  const out = new Map<number, { index: number; state: string }>();
  let state = model.init();
  order.forEach((op, index) => {
    const next = model.step(state, op);
    if (next !== INCONSISTENT) state = next;
    out.set(op.id, { index, state: model.describeState(state) });
  });
  return out;
}

function keyName(key: string | undefined): string {
  return key === undefined || key === '' ? 'the register' : `key ${JSON.stringify(key)}`;
}

function orderSection<S>(
  model: Model<S>,
  key: string | undefined,
  operations: Operation[],
  linearization: Operation[],
): Section {
  const shown = operations.slice(0, TIMELINE_OPERATIONS_MAX);
  const order = stateDescriptions(model, linearization);
  const roles = new Map<number, Role>();
  for (const op of shown) roles.set(op.id, order.has(op.id) ? 'linearized' : 'other');
  const notes = [`A linearization: the numbers give the order, the line its points in time.`];
  if (operations.length > shown.length)
    notes.push(`The first ${shown.length} of ${operations.length} operations.`);
  return { heading: keyName(key), notes, operations: shown, order, roles, hidden: 0 };
}

function failureSection<S>(
  model: Model<S>,
  result: LinearizabilityResult,
  keyOperations: Operation[],
  shortest: ShortestFailure<S> | undefined,
  lines: readonly number[] | undefined,
): Section {
  const failure = result.failure!;
  const operations = shortest?.operations ?? keyOperations;
  const prefix = shortest?.outcome.longestPrefix ?? failure.longestPrefix ?? [];
  const blocked = shortest?.outcome.blocked ?? failure.blocked ?? [];
  const must = shortest?.outcome.mustPrecede ?? failure.mustPrecede;
  const order = stateDescriptions(model, prefix);
  const roles = new Map<number, Role>();
  for (const op of operations) roles.set(op.id, order.has(op.id) ? 'linearized' : 'other');
  for (const op of blocked) roles.set(op.id, 'blocked');
  if (must !== undefined) roles.set(must.id, 'must');
  const notes: string[] = [];
  if (shortest !== undefined) {
    const straw = shortest.lastStraw;
    roles.set(straw.id, 'straw');
    const at = lines?.[straw.completeIndex];
    notes.push(
      `The shortest failing part of the history: the first ${shortest.cut} events${at === undefined ? '' : ` (up to line ${at})`}. Without the last one, the completion of “${model.describeOperation(straw)}”, every operation can be ordered; with it, none can.`,
    );
  } else {
    notes.push(
      'The whole history of this key (the shortest failing prefix was not found within the time budget).',
    );
  }
  notes.push(
    `Green: the longest order the search found (${prefix.length} operations; state after it: ${prefix.length === 0 ? model.describeState(model.init()) : order.get(prefix[prefix.length - 1].id)!.state}). Orange: the operations real time allows next, none of which can follow. Red: the one that completed first, so it had to be ordered by then.`,
  );
  // The window: everything not completed before the first blocked (or last-straw) operation
  // began, and the last few linearized operations before it.
  const focus = [...blocked, ...(must === undefined ? [] : [must])];
  if (shortest !== undefined) focus.push(shortest.lastStraw);
  const start = focus.length === 0 ? 0 : Math.min(...focus.map((op) => op.invokeIndex));
  const context = new Set(
    prefix
      .filter((op) => op.completeIndex < start)
      .slice(-CONTEXT_OPERATIONS)
      .map((op) => op.id),
  );
  let shown = operations.filter((op) => op.completeIndex >= start || context.has(op.id));
  if (shown.length > TIMELINE_OPERATIONS_MAX) {
    const keepIds = new Set(focus.map((op) => op.id));
    const keep = shown.filter((op) => keepIds.has(op.id));
    const rest = shown.filter((op) => !keepIds.has(op.id));
    shown = [...keep, ...rest.slice(Math.max(0, rest.length - (TIMELINE_OPERATIONS_MAX - keep.length)))];
    shown.sort((a, b) => a.invokeIndex - b.invokeIndex);
  }
  return {
    heading: `${keyName(failure.key)}: no linearization`,
    notes,
    operations: shown,
    order,
    roles,
    hidden: operations.length - shown.length,
  };
}

function renderSection<S>(model: Model<S>, section: Section, lines: readonly number[] | undefined): string {
  const ops = section.operations;
  // x axis: the distinct event positions of the drawn operations, evenly spaced.
  const times = new Set<number>();
  for (const op of ops) {
    times.add(op.invokeIndex);
    if (op.completeIndex !== Number.POSITIVE_INFINITY) times.add(op.completeIndex);
  }
  const sorted = [...times].sort((a, b) => a - b);
  const rank = new Map(sorted.map((t, i) => [t, i]));
  const end = sorted.length + 1;
  const processes = [...new Set(ops.map((op) => op.process))].sort((a, b) => a - b);
  const row = new Map(processes.map((p, i) => [p, i]));
  const width = (end + 1) * UNIT_PX + 80;
  const height = processes.length * ROW_PX + 10;
  const bars: string[] = [];
  const rows: string[] = [];
  const points: { x: number; y: number; index: number }[] = [];
  for (const op of ops) {
    const x0 = rank.get(op.invokeIndex)! * UNIT_PX + 80;
    const open = op.completeIndex === Number.POSITIVE_INFINITY;
    const x1 = (open ? end : rank.get(op.completeIndex)! + 0.6) * UNIT_PX + 80;
    const y = row.get(op.process)! * ROW_PX + 4;
    const role = section.roles.get(op.id) ?? 'other';
    const ordered = section.order.get(op.id);
    const label = model.describeOperation(op).replace(/^process \d+: /, '');
    const where = lines === undefined ? '' : ` (line ${lines[op.invokeIndex]})`;
    const tip = `${model.describeOperation(op)}${where}${ordered === undefined ? '' : `\n#${ordered.index + 1} in the order; state after: ${ordered.state}`}`;
    const badge = ordered === undefined ? '' : `<b>#${ordered.index + 1}</b> `;
    bars.push(
      `<div class="op ${role}${open ? ' open' : ''}" style="left:${x0}px;top:${y}px;width:${Math.max(x1 - x0, UNIT_PX)}px" title="${escapeHtml(tip)}">${badge}${escapeHtml(label)}</div>`,
    );
    rows.push(
      `<tr class="${role}"><td>${ordered === undefined ? '' : ordered.index + 1}</td><td>${escapeHtml(model.describeOperation(op))}</td><td>${op.invokeIndex}${lines === undefined ? '' : ` (line ${lines[op.invokeIndex]})`}</td><td>${open ? 'unknown' : `${op.completeIndex}${lines === undefined ? '' : ` (line ${lines[op.completeIndex]})`}`}</td><td>${ROLE_TEXT[role]}${ordered === undefined ? '' : `; state after: ${escapeHtml(ordered.state)}`}</td></tr>`,
    );
    if (ordered !== undefined) points.push({ x: x0, y: y + ROW_PX / 2 - 4, index: ordered.index });
  }
  // Linearization points: in order, each at or after the previous one and its own invocation.
  points.sort((a, b) => a.index - b.index);
  let lastX = 0;
  const polyline = points.map((p) => {
    lastX = Math.max(lastX + 3, p.x + 6);
    return `${lastX},${p.y}`;
  });
  const labels = processes
    .map((p, i) => `<div class="proc" style="top:${i * ROW_PX + 10}px">process ${p}</div>`)
    .join('');
  const hidden =
    section.hidden > 0 ? `<p>${section.hidden} earlier operations of this key are not drawn.</p>` : '';
  return `<section><h2>${escapeHtml(section.heading)}</h2>
${section.notes.map((n) => `<p>${escapeHtml(n)}</p>`).join('\n')}
${hidden}<div class="timeline" style="width:${width}px;height:${height}px">${labels}
<svg width="${width}" height="${height}"><polyline points="${polyline.join(' ')}"/></svg>
${bars.join('\n')}
</div>
<details><summary>the ${ops.length} operations drawn, as a table</summary>
<table><tr><th>#</th><th>operation</th><th>invoked (event)</th><th>completed (event)</th><th></th></tr>
${rows.join('\n')}
</table></details></section>`;
}

const ROLE_TEXT: Record<Role, string> = {
  linearized: 'ordered',
  blocked: 'cannot come next',
  must: 'had to be ordered by now',
  straw: 'its completion makes the history fail',
  other: 'not ordered',
};

function escapeHtml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;');
}

const LEGEND = `<p class="legend"><span class="op linearized">ordered</span> <span class="op blocked">cannot come next</span> <span class="op must">had to be ordered by now</span> <span class="op straw">the completion that makes it fail</span> <span class="op other">not ordered</span> <span class="op other open">outcome unknown</span></p>`;

const CSS = `body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.3em}h2{font-size:1.1em;margin-top:1.5em}
pre.explanation{background:#f6f6f6;padding:.6em;border-left:3px solid #c33}
.timeline{position:relative;overflow:visible;border-top:1px solid #ddd;margin:1em 0;}
section{overflow-x:auto}
.timeline svg{position:absolute;left:0;top:0;pointer-events:none;z-index:2}
.timeline polyline{fill:none;stroke:#2a7;stroke-width:2;stroke-opacity:.7}
.proc{position:absolute;left:0;width:76px;font-size:12px;color:#666}
.op{position:absolute;height:${ROW_PX - 10}px;line-height:${ROW_PX - 10}px;box-sizing:border-box;border:1px solid #888;border-radius:4px;padding:0 4px;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis;background:#eee}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}
tr.blocked{background:#ffe2b8}tr.must,tr.straw{background:#ffc9c9}tr.linearized{background:#e6f7eb}
.legend .op{position:static;display:inline-block;margin-right:.5em}
.op.linearized{background:#c8efd4;border-color:#2a7}
.op.blocked{background:#ffe2b8;border-color:#e80}
.op.must{background:#ffc9c9;border:2px solid #c22;font-weight:bold}
.op.straw{background:#ffc9c9;border:2px dashed #c22}
.op.open{border-right:3px dotted #888;background-image:linear-gradient(90deg,transparent 70%,#fff)}
`;
