// The scrape loop: every target is fetched on its interval with common's HttpClient, parsed,
// labelled and written to the TSDB (core/scrape-samples.ts). A target that fails gets up=0 and
// staleness markers for its series; a target removed from the config gets them too.
import { HttpClient, type TimerClock, WALL_MS_HEADER } from '@ddia/common';
import type { FastifyBaseLogger } from 'fastify';
import { ClockOffsetEstimator, type ClockProbe } from '../core/clock-offset.js';
import { parseExposition } from '../core/exposition.js';
import type { Labels } from '../core/labels.js';
import type { ScrapeTarget } from '../core/scrape-config.js';
import { alignedScrapeTime, scrapeSamples } from '../core/scrape-samples.js';
import type { TsdbStorage } from '../storage/memory-storage.js';

export type TargetHealth = 'up' | 'down' | 'unknown';

export interface TargetState {
  target: ScrapeTarget;
  health: TargetHealth;
  lastError: string;
  lastScrapeMs: number | null;
  lastDurationS: number;
  previous: Map<string, Labels>;
  timer: { cancel(): void } | null;
  scrapes: number;
  /** The target's clock against ours, from the stamps on its answers (core/clock-offset.ts). */
  clockOffset: ClockOffsetEstimator;
}

/** The target's stamp on an answer: `x-ddia-wall-ms` (1 ms) or the `Date` header (1 s). */
export function clockStamp(headers: Record<string, string | string[] | undefined>): {
  stampMs: number;
  resolutionMs: number;
} | null {
  const wall = headers[WALL_MS_HEADER];
  if (typeof wall === 'string' && /^\d+(\.\d+)?$/.test(wall))
    return { stampMs: Math.floor(Number(wall)), resolutionMs: 1 };
  const date = headers.date;
  if (typeof date !== 'string') return null;
  const ms = Date.parse(date);
  return Number.isFinite(ms) ? { stampMs: ms, resolutionMs: 1000 } : null;
}

const ACCEPT = 'text/plain;version=0.0.4;q=1,*/*;q=0.1';

export function targetKey(t: ScrapeTarget): string {
  return `${t.job}|${t.address}|${t.metricsPath}`;
}

export class Scraper {
  private readonly states = new Map<string, TargetState>();
  private readonly client = new HttpClient({ retries: 0 });
  private stopped = false;
  /** Called after every scrape (the alert and failure-detector loops listen). */
  onScrape: ((state: TargetState) => void) | null = null;

  constructor(
    private readonly storage: TsdbStorage,
    private readonly clock: TimerClock,
    private readonly log?: FastifyBaseLogger,
  ) {}

  /** Replaces the target list; removed targets' series are marked stale. */
  async setTargets(targets: readonly ScrapeTarget[]): Promise<void> {
    const wanted = new Map(targets.map((t) => [targetKey(t), t]));
    for (const [key, state] of this.states) {
      if (wanted.has(key)) continue;
      state.timer?.cancel();
      this.states.delete(key);
      const t = Math.round(this.clock.wallMs());
      const samples = [...state.previous.values()].map((labels) => ({
        labels,
        t,
        value: Number.NaN,
        stale: true,
      }));
      await this.storage.ingest(samples);
    }
    for (const [key, target] of wanted) {
      if (this.states.has(key)) continue;
      const state: TargetState = {
        target,
        health: 'unknown',
        lastError: '',
        lastScrapeMs: null,
        lastDurationS: 0,
        previous: new Map(),
        timer: null,
        scrapes: 0,
        clockOffset: new ClockOffsetEstimator(),
      };
      this.states.set(key, state);
      this.schedule(state, 0);
    }
  }

  private schedule(state: TargetState, delayMs: number): void {
    if (this.stopped) return;
    state.timer = this.clock.setTimeout(() => {
      if (this.states.get(targetKey(state.target)) !== state) return;
      const started = this.clock.nowMs();
      this.scrape(state)
        .catch((err) => this.log?.error({ err, target: state.target.address }, 'scrape failed to store'))
        .finally(() => {
          const elapsed = this.clock.nowMs() - started;
          this.schedule(state, Math.max(0, state.target.intervalMs - elapsed));
        });
    }, delayMs);
  }

  async scrape(state: TargetState): Promise<void> {
    const { target } = state;
    const scrapeTimeMs = alignedScrapeTime(
      state.lastScrapeMs,
      target.intervalMs,
      Math.round(this.clock.wallMs()),
    );
    const started = this.clock.nowMs();
    let exposition = null;
    let error = '';
    try {
      const sentMs = this.clock.wallMs();
      const response = await this.client.request(`http://${target.address}${target.metricsPath}`, {
        deadlineMs: target.timeoutMs,
        retry: false,
        headers: { accept: ACCEPT },
      });
      const receivedMs = this.clock.wallMs();
      const stamp = clockStamp(response.headers);
      if (stamp) {
        const probe: ClockProbe = { sentMs, receivedMs, ...stamp };
        state.clockOffset.add(probe);
      }
      if (response.status !== 200) error = `server returned HTTP status ${response.status}`;
      else exposition = parseExposition(response.text());
    } catch (err) {
      error = (err as Error).message;
    }
    const durationS = (this.clock.nowMs() - started) / 1000;
    const outcome = scrapeSamples(exposition, target.labels, scrapeTimeMs, durationS, state.previous);
    state.previous = outcome.seen;
    state.health = exposition ? 'up' : 'down';
    state.lastError = error;
    state.lastScrapeMs = scrapeTimeMs;
    state.lastDurationS = durationS;
    state.scrapes++;
    await this.storage.ingest(outcome.samples);
    this.onScrape?.(state);
  }

  targets(): TargetState[] {
    return [...this.states.values()];
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const s of this.states.values()) s.timer?.cancel();
    await this.client.close();
  }
}
