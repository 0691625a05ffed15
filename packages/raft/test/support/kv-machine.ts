// A tiny key-value state machine for driver tests: commands are "key=value" strings.
import type { StateMachine } from '../../src/index.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

export class KvMachine implements StateMachine<string | null> {
  readonly data = new Map<string, string>();
  applied = 0;
  restores = 0;

  apply(command: Uint8Array, meta: { index: number }): string | null {
    const [key, value] = dec.decode(command).split('=');
    const previous = this.data.get(key) ?? null;
    this.data.set(key, value);
    this.applied = meta.index;
    return previous;
  }

  snapshot(): Uint8Array | Promise<Uint8Array> {
    return enc.encode(JSON.stringify([...this.data]));
  }

  restore(data: Uint8Array, meta: { index: number }): void {
    this.data.clear();
    for (const [k, v] of JSON.parse(dec.decode(data)) as [string, string][]) this.data.set(k, v);
    this.applied = meta.index;
    this.restores++;
  }
}

export function cmd(text: string): Uint8Array {
  return enc.encode(text);
}

export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = performance.now();
  while (!cond()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
