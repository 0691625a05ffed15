// The primary's registers: a map from key to value, made durable by appending every change to
// @ddia/common's segmented log before it is acknowledged (a write-ahead log, DDIA ch. 3), and
// rebuilt by replaying the log on start. Writes run one at a time, so a compare-and-set reads
// and replaces the value with no other write in between: the primary is the single copy that
// makes the register linearizable (DDIA ch. 9, "Implementing Linearizable Systems").
import { Log } from '@ddia/common';

export type RegisterValue = number | string | boolean | null;

interface ChangeRecord {
  key: string;
  value: RegisterValue;
}

export class RegisterStore {
  private readonly values = new Map<string, RegisterValue>();
  private tail: Promise<unknown> = Promise.resolve();

  private constructor(private readonly log: Log | null) {}

  /** Opens (and replays) the log in `dir`; without a dir the registers live in memory only. */
  static async open(dir: string | undefined): Promise<RegisterStore> {
    if (!dir) return new RegisterStore(null);
    const log = await Log.open({ dir, fsync: 'always' });
    const store = new RegisterStore(log);
    for await (const { record } of log.entries()) {
      const change = JSON.parse(Buffer.from(record).toString('utf8')) as ChangeRecord;
      store.values.set(change.key, change.value);
    }
    return store;
  }

  get(key: string): RegisterValue {
    return this.values.get(key) ?? null;
  }

  write(key: string, value: RegisterValue): Promise<void> {
    return this.serially(async () => {
      await this.persist({ key, value });
      this.values.set(key, value);
    });
  }

  /** Sets `to` if the value is `from`; answers whether it did. */
  cas(key: string, from: RegisterValue, to: RegisterValue): Promise<boolean> {
    return this.serially(async () => {
      if (this.get(key) !== from) return false;
      await this.persist({ key, value: to });
      this.values.set(key, to);
      return true;
    });
  }

  async close(): Promise<void> {
    await this.tail.catch(() => {});
    await this.log?.close();
  }

  private async persist(change: ChangeRecord): Promise<void> {
    // The value becomes visible to reads only after it is durable: a read never returns a value
    // that a crash could take back.
    await this.log?.append(Buffer.from(JSON.stringify(change)));
  }

  private serially<T>(step: () => Promise<T>): Promise<T> {
    const next = this.tail.then(step, step);
    this.tail = next.catch(() => {});
    return next;
  }
}
