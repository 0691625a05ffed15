import { describe, expect, it } from 'vitest';
import { ExpositionError } from '../src/core/errors.js';
import { parseExposition } from '../src/core/exposition.js';
import { labelsToRecord } from '../src/core/labels.js';
import { scrapeSamples } from '../src/core/scrape-samples.js';

const SAMPLE = `# HELP http_requests_total The total number of HTTP requests.
# TYPE http_requests_total counter
http_requests_total{method="post",code="200"} 1027 1395066363000
http_requests_total{method="post",code="400"}    3 1395066363000

# Escaping in label values:
msdos_file_access_time_seconds{path="C:\\\\DIR\\\\FILE.TXT",error="Cannot find file:\\n\\"FILE.TXT\\""} 1.458255915e9

# Minimalistic line:
metric_without_timestamp_and_labels 12.47

# A weird metric from before the epoch:
something_weird{problem="division by zero"} +Inf -3982045

# HELP escaped_help Backslash \\\\ and a\\nnewline.
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le="0.05"} 24054
http_request_duration_seconds_bucket{le="0.1"} 33444
http_request_duration_seconds_bucket{le="+Inf"} 144320
http_request_duration_seconds_sum 53423
http_request_duration_seconds_count 144320

# TYPE rpc_duration_seconds summary
rpc_duration_seconds{quantile="0.01"} 3102
rpc_duration_seconds{quantile="0.99"} 76656
rpc_duration_seconds_sum 1.7560473e+07
rpc_duration_seconds_count 2693
gauge_nan NaN
gauge_neg_inf -Inf
`;

describe('Prometheus text exposition', () => {
  const parsed = parseExposition(SAMPLE);
  const byName = (n: string) => parsed.families.find((f) => f.name === n)!;

  it('reads HELP, TYPE, labels, values and timestamps', () => {
    const counter = byName('http_requests_total');
    expect(counter.type).toBe('counter');
    expect(counter.help).toBe('The total number of HTTP requests.');
    expect(counter.samples).toHaveLength(2);
    expect(labelsToRecord(counter.samples[0]!.labels)).toEqual({
      __name__: 'http_requests_total',
      method: 'post',
      code: '200',
    });
    expect(counter.samples[1]!.value).toBe(3);
    expect(counter.samples[0]!.timestampMs).toBe(1395066363000);
  });

  it('unescapes label values and help text', () => {
    const s = byName('msdos_file_access_time_seconds').samples[0]!;
    expect(labelsToRecord(s.labels).path).toBe('C:\\DIR\\FILE.TXT');
    expect(labelsToRecord(s.labels).error).toBe('Cannot find file:\n"FILE.TXT"');
    expect(s.value).toBe(1.458255915e9);
    expect(byName('escaped_help').help).toBe('Backslash \\ and a\nnewline.');
  });

  it('reads +Inf, -Inf, NaN and negative timestamps', () => {
    const weird = byName('something_weird').samples[0]!;
    expect(weird.value).toBe(Number.POSITIVE_INFINITY);
    expect(weird.timestampMs).toBe(-3982045);
    expect(byName('gauge_nan').samples[0]!.value).toBeNaN();
    expect(byName('gauge_neg_inf').samples[0]!.value).toBe(Number.NEGATIVE_INFINITY);
  });

  it('groups histogram and summary samples under their family', () => {
    const h = byName('http_request_duration_seconds');
    expect(h.type).toBe('histogram');
    expect(h.samples.map((s) => labelsToRecord(s.labels).__name__)).toEqual([
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_bucket',
      'http_request_duration_seconds_sum',
      'http_request_duration_seconds_count',
    ]);
    expect(labelsToRecord(h.samples[2]!.labels).le).toBe('+Inf');
    const s = byName('rpc_duration_seconds');
    expect(s.type).toBe('summary');
    expect(s.samples).toHaveLength(4);
    expect(parsed.samples).toHaveLength(16);
  });

  const bad: [string, string, number, RegExp][] = [
    ['unclosed label value', 'ok 1\nfoo{a="b} 1', 2, /not closed/],
    ['bad escape', 'foo{a="\\x"} 1', 1, /invalid escape/],
    ['missing value', 'foo{a="b"}', 1, /no value/],
    ['non-numeric value', 'foo 1x', 1, /not a float/],
    ['bad timestamp', 'foo 1 12.5', 1, /integer timestamp/],
    ['unknown type', '# TYPE foo meter', 1, /unknown metric type/],
    ['bucket without le', '# TYPE h histogram\nh_bucket 1', 2, /no 'le'/],
    ['summary without quantile', '# TYPE s summary\ns 1', 2, /no 'quantile'/],
    ['TYPE after samples', 'foo 1\n# TYPE foo gauge', 2, /after its samples/],
    ['duplicate series', 'foo{a="1"} 1\nfoo{a="1"} 2', 2, /duplicate/],
    ['duplicate label', 'foo{a="1",a="2"} 1', 1, /twice/],
    ['bad label name', 'foo{1a="1"} 1', 1, /invalid label name/],
    ['trailing junk', 'foo 1 2 3', 1, /after the timestamp/],
  ];
  for (const [what, text, line, message] of bad) {
    it(`rejects ${what} with its line number`, () => {
      let error: unknown;
      try {
        parseExposition(text);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(ExpositionError);
      expect((error as ExpositionError).line).toBe(line);
      expect((error as ExpositionError).message).toMatch(message);
      expect((error as ExpositionError).code).toBe('DDIA_ERR_MONITORING_EXPOSITION');
    });
  }

  it('accepts a trailing comma in labels and CRLF line ends', () => {
    const p = parseExposition('foo{a="1",} 2\r\nbar 3\r\n');
    expect(p.samples.map((s) => s.value)).toEqual([2, 3]);
  });

  it('scrapeSamples: target labels attached once, the same labels object reused, a vanished series marked stale', () => {
    const target = { job: 'api', instance: 'h:1' };
    const first = scrapeSamples(
      parseExposition('a{x="1"} 1\nb{instance="e"} 2\n'),
      target,
      1000,
      0.01,
      new Map(),
    );
    const [a1, b1] = first.samples;
    expect(labelsToRecord(a1!.labels)).toEqual({ __name__: 'a', x: '1', job: 'api', instance: 'h:1' });
    // An exporter's label that clashes with a target label is kept as exported_<name>.
    expect(labelsToRecord(b1!.labels)).toEqual({
      __name__: 'b',
      exported_instance: 'e',
      job: 'api',
      instance: 'h:1',
    });
    const second = scrapeSamples(parseExposition('a{x="1"} 5\n'), target, 2000, 0.01, first.seen);
    expect(second.samples[0]!.labels).toBe(a1!.labels);
    expect(second.samples[0]!.value).toBe(5);
    const stale = second.samples.filter((s) => s.stale);
    expect(stale.map((s) => s.labels)).toEqual([b1!.labels]);
    expect(stale[0]!.t).toBe(2000);
    const synthetic = second.samples.slice(-3).map((s) => [labelsToRecord(s.labels).__name__, s.value]);
    expect(synthetic).toEqual([
      ['up', 1],
      ['scrape_duration_seconds', 0.01],
      ['scrape_samples_scraped', 1],
    ]);
    expect([...second.seen.values()]).toEqual([a1!.labels]);
  });
});
