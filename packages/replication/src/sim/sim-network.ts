// A seeded network between simulated nodes: each message is dropped, delayed (so reordered) or
// duplicated by the draw of one Random, and partitions cut chosen links both ways.
import type { Random } from '@ddia/common/core';

export interface NetworkWeather {
  delayMinMs: number;
  delayMaxMs: number;
  dropRate: number;
  duplicateRate: number;
}

export const CALM_WEATHER: NetworkWeather = { delayMinMs: 1, delayMaxMs: 5, dropRate: 0, duplicateRate: 0 };

export class SimNetwork {
  private readonly cut = new Set<string>();
  sent = 0;
  dropped = 0;

  constructor(
    private readonly random: Random,
    public weather: NetworkWeather,
  ) {}

  /** Splits the nodes into sides that cannot reach each other. */
  partition(sides: readonly (readonly string[])[]): void {
    this.cut.clear();
    for (const a of sides)
      for (const b of sides) if (a !== b) for (const x of a) for (const y of b) this.cut.add(`${x}>${y}`);
  }

  heal(): void {
    this.cut.clear();
  }

  partitioned(): boolean {
    return this.cut.size > 0;
  }

  /** Delivery delays for one message: [] when lost, two entries when duplicated. */
  fate(from: string, to: string): number[] {
    this.sent++;
    const delay = () => this.random.int(this.weather.delayMinMs, this.weather.delayMaxMs);
    if (this.cut.has(`${from}>${to}`) || this.random.chance(this.weather.dropRate)) {
      this.dropped++;
      return [];
    }
    return this.random.chance(this.weather.duplicateRate) ? [delay(), delay()] : [delay()];
  }
}
