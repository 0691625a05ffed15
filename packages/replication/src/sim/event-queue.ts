// Events on a virtual clock, in (time, insertion) order: ties resolve the same way every run.

export interface Scheduled<E> {
  atMs: number;
  seq: number;
  event: E;
}

export class EventQueue<E> {
  private readonly items: Scheduled<E>[] = [];
  private seq = 0;

  push(atMs: number, event: E): void {
    const item = { atMs, seq: this.seq++, event };
    // Binary search for the insertion point keeps the array sorted.
    let lo = 0;
    let hi = this.items.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const other = this.items[mid] as Scheduled<E>;
      if (other.atMs < atMs || (other.atMs === atMs && other.seq < item.seq)) lo = mid + 1;
      else hi = mid;
    }
    this.items.splice(lo, 0, item);
  }

  pop(): Scheduled<E> | undefined {
    return this.items.shift();
  }

  peekMs(): number | undefined {
    return this.items[0]?.atMs;
  }

  get size(): number {
    return this.items.length;
  }
}
