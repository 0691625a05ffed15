// A series is named by its label set; the metric name is the label `__name__`. Label sets are
// kept sorted by name so that equal sets have equal keys (Prometheus's labels.Labels).

export type Labels = ReadonlyArray<readonly [name: string, value: string]>;

export const METRIC_NAME = '__name__';

/** Sorts by label name and drops empty values (an empty value means "no such label"). */
export function normalizeLabels(pairs: Iterable<readonly [string, string]>): Labels {
  const out: [string, string][] = [];
  for (const [name, value] of pairs) if (value !== '') out.push([name, value]);
  out.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return out;
}

export function labelsFromRecord(record: Record<string, string>): Labels {
  return normalizeLabels(Object.entries(record));
}

export function labelsToRecord(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of labels) out[name] = value;
  return out;
}

/** A stable string key of a label set; the separator bytes cannot occur in names. */
export function labelsKey(labels: Labels): string {
  let key = '';
  for (const [name, value] of labels) key += `${name}\u0000${value}\u0001`;
  return key;
}

export function getLabel(labels: Labels, name: string): string {
  for (const [n, v] of labels) if (n === name) return v;
  return '';
}

export function withoutLabels(labels: Labels, names: ReadonlySet<string>): Labels {
  return labels.filter(([n]) => !names.has(n));
}

export function onlyLabels(labels: Labels, names: ReadonlySet<string>): Labels {
  return labels.filter(([n]) => names.has(n));
}

export function setLabel(labels: Labels, name: string, value: string): Labels {
  return normalizeLabels([...labels.filter(([n]) => n !== name), [name, value]]);
}

/** Prometheus-style rendering: name{a="b", c="d"}. */
export function formatLabels(labels: Labels): string {
  const name = getLabel(labels, METRIC_NAME);
  const rest = labels
    .filter(([n]) => n !== METRIC_NAME)
    .map(([n, v]) => `${n}=${JSON.stringify(v)}`)
    .join(', ');
  return `${name}{${rest}}`;
}

export const LABEL_NAME_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
export const METRIC_NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
