// Prometheus's text exposition format (version 0.0.4), parsed line by line:
//   # HELP <name> <docstring>          (docstring escapes: \\ and \n)
//   # TYPE <name> counter|gauge|histogram|summary|untyped
//   <name>[{<label>="<value>",...}] <value> [<timestamp ms>]   (value escapes: \\ \" \n)
// Any other `#` line is a comment. Samples of a histogram or summary family carry the suffixes
// _bucket (with `le`), _sum and _count, or a `quantile` label; they are checked here so that a
// malformed exporter is reported at its line rather than producing nonsense queries later.
import { ExpositionError } from './errors.js';
import { LABEL_NAME_RE, type Labels, METRIC_NAME, METRIC_NAME_RE, normalizeLabels } from './labels.js';
import { parseFloatLiteral } from './special-values.js';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
const METRIC_TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];

export interface ExpositionSample {
  /** Every label including `__name__`, sorted. */
  labels: Labels;
  value: number;
  /** Milliseconds since the epoch, when the exporter gave one. */
  timestampMs?: number;
  /** The series' identity as exported (its sorted labels, joined): a scraper's cache key. */
  key: string;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  help: string;
  samples: ExpositionSample[];
}

export interface Exposition {
  families: MetricFamily[];
  samples: ExpositionSample[];
}

const SUFFIXES: Record<MetricType, readonly string[]> = {
  counter: ['', '_total'],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

/** A line cursor that reports errors at the line being read. */
class LineReader {
  at = 0;
  constructor(
    readonly text: string,
    readonly line: number,
  ) {}
  fail(reason: string): never {
    throw new ExpositionError(this.line, `${reason} (column ${this.at + 1})`);
  }
  skipSpaces(): void {
    while (this.text[this.at] === ' ' || this.text[this.at] === '\t') this.at++;
  }
  done(): boolean {
    return this.at >= this.text.length;
  }
  readWhile(re: RegExp): string {
    const start = this.at;
    while (this.at < this.text.length && re.test(this.text[this.at]!)) this.at++;
    return this.text.slice(start, this.at);
  }
  readToken(): string {
    return this.readWhile(/[^ \t]/);
  }
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

function readLabelValue(reader: LineReader): string {
  if (reader.text[reader.at] !== '"') reader.fail('expected " to open a label value');
  reader.at++;
  let value = '';
  for (;;) {
    const c = reader.text[reader.at];
    if (c === undefined) reader.fail('label value is not closed by "');
    reader.at++;
    if (c === '"') return value;
    if (c === '\\') {
      const next = reader.text[reader.at];
      reader.at++;
      if (next === '\\') value += '\\';
      else if (next === '"') value += '"';
      else if (next === 'n') value += '\n';
      else reader.fail(`invalid escape \\${next ?? ''} in a label value`);
    } else value += c;
  }
}

function readLabels(reader: LineReader, name: string): Labels {
  const pairs: [string, string][] = [[METRIC_NAME, name]];
  const seen = new Set<string>();
  reader.at++; // '{'
  for (;;) {
    reader.skipSpaces();
    if (reader.text[reader.at] === '}') {
      reader.at++;
      break;
    }
    const labelName = reader.readWhile(/[a-zA-Z0-9_]/);
    if (!LABEL_NAME_RE.test(labelName)) reader.fail(`invalid label name '${labelName}'`);
    if (labelName === METRIC_NAME) reader.fail('label name __name__ is reserved');
    if (seen.has(labelName)) reader.fail(`label '${labelName}' appears twice`);
    seen.add(labelName);
    reader.skipSpaces();
    if (reader.text[reader.at] !== '=') reader.fail(`expected = after label name '${labelName}'`);
    reader.at++;
    reader.skipSpaces();
    pairs.push([labelName, readLabelValue(reader)]);
    reader.skipSpaces();
    if (reader.text[reader.at] === ',') {
      reader.at++;
      continue;
    }
    if (reader.text[reader.at] === '}') {
      reader.at++;
      break;
    }
    reader.fail('expected , or } after a label');
  }
  return normalizeLabels(pairs);
}

/** The family a sample name belongs to, given the families declared so far. */
function familyOf(name: string, declared: Map<string, MetricFamily>): MetricFamily | undefined {
  const exact = declared.get(name);
  if (exact) return exact;
  for (const suffix of ['_bucket', '_sum', '_count', '_total']) {
    if (!name.endsWith(suffix)) continue;
    const family = declared.get(name.slice(0, -suffix.length));
    if (family && SUFFIXES[family.type].includes(suffix)) return family;
  }
  return undefined;
}

function checkSample(reader: LineReader, family: MetricFamily, name: string, labels: Labels): void {
  const label = (n: string) => labels.find(([k]) => k === n)?.[1];
  if (family.type === 'histogram' && name.endsWith('_bucket')) {
    const le = label('le');
    if (le === undefined) reader.fail(`histogram bucket ${name} has no 'le' label`);
    if (parseFloatLiteral(le) === null) reader.fail(`histogram bucket le="${le}" is not a number`);
  }
  if (family.type === 'summary' && name === family.name) {
    const q = label('quantile');
    if (q === undefined) reader.fail(`summary sample ${name} has no 'quantile' label`);
    if (parseFloatLiteral(q) === null) reader.fail(`summary quantile="${q}" is not a number`);
  }
}

/** Parses a whole exposition. Throws ExpositionError naming the 1-based line. */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, MetricFamily>();
  const withSamples = new Set<string>();
  const samples: ExpositionSample[] = [];
  const seenSeries = new Set<string>();
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let raw = lines[i]!;
    if (raw.endsWith('\r')) raw = raw.slice(0, -1);
    const reader: LineReader = new LineReader(raw, i + 1);
    reader.skipSpaces();
    if (reader.done()) continue;
    if (raw[reader.at] === '#') {
      reader.at++;
      reader.skipSpaces();
      const keyword = reader.readToken();
      if (keyword !== 'HELP' && keyword !== 'TYPE') continue; // a plain comment
      reader.skipSpaces();
      const name = reader.readToken();
      if (!METRIC_NAME_RE.test(name)) reader.fail(`invalid metric name '${name}' in # ${keyword}`);
      let family = families.get(name);
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
      }
      if (raw[reader.at] === ' ' || raw[reader.at] === '\t') reader.at++;
      const rest = raw.slice(reader.at);
      if (keyword === 'HELP') {
        family.help = unescapeHelp(rest);
      } else {
        const type = rest.trim() as MetricType;
        if (!METRIC_TYPES.includes(type)) reader.fail(`unknown metric type '${rest.trim()}'`);
        if (withSamples.has(name)) reader.fail(`# TYPE for ${name} comes after its samples`);
        family.type = type;
      }
      continue;
    }
    const name = reader.readWhile(/[a-zA-Z0-9_:]/);
    if (!METRIC_NAME_RE.test(name)) reader.fail(`invalid metric name '${name || raw[reader.at]}'`);
    reader.skipSpaces();
    const labels = raw[reader.at] === '{' ? readLabels(reader, name) : normalizeLabels([[METRIC_NAME, name]]);
    reader.skipSpaces();
    const valueText = reader.readToken();
    if (valueText === '') reader.fail(`sample ${name} has no value`);
    const value = parseFloatLiteral(valueText);
    if (value === null) reader.fail(`'${valueText}' is not a float value`);
    reader.skipSpaces();
    let timestampMs: number | undefined;
    if (!reader.done()) {
      const tsText = reader.readToken();
      if (!/^-?\d+$/.test(tsText)) reader.fail(`'${tsText}' is not an integer timestamp in milliseconds`);
      timestampMs = Number(tsText);
      if (!Number.isSafeInteger(timestampMs)) reader.fail(`timestamp ${tsText} is out of range`);
      reader.skipSpaces();
      if (!reader.done()) reader.fail('unexpected text after the timestamp');
    }
    let family = familyOf(name, families);
    if (!family) {
      family = { name, type: 'untyped', help: '', samples: [] };
      families.set(name, family);
    }
    checkSample(reader, family, name, labels);
    let key = '';
    for (const [n, v] of labels) key += `${n}\u0000${v}\u0001`;
    if (seenSeries.has(key)) reader.fail(`duplicate sample for series ${name}`);
    seenSeries.add(key);
    withSamples.add(family.name);
    const sample: ExpositionSample =
      timestampMs === undefined ? { labels, value, key } : { labels, value, timestampMs, key };
    family.samples.push(sample);
    samples.push(sample);
  }
  return { families: [...families.values()], samples };
}
