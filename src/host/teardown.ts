/**
 * The teardown stack. A step that acquires a resource (loop device, mount,
 * temp dir) defers its release at once. On success, failure or interrupt the
 * stack unwinds last-in first-out and keeps going past errors; what could not
 * be undone is returned so the build can report it. With a journal, what
 * each entry holds is on disk until it is released (see journal.ts).
 */
import type { Journal, Resource } from './journal.js';

export interface TeardownEntry {
  readonly label: string;
  /** Run the release now and take it off the stack (e.g. an `unmount` step). */
  release(): Promise<void>;
  /** Take it off the stack without running it (the resource was handed on). */
  drop(): void;
}

interface Item {
  label: string;
  fn: () => Promise<void> | void;
  onlyOnFailure: boolean;
  /** Its id in the journal, once recorded there. */
  journalId?: number;
  /** What it holds, when journaled. */
  resource?: Resource;
}

export interface DeferOptions {
  /** Run only when the build failed (e.g. removing a partial file that success renames). */
  onlyOnFailure?: boolean;
  /** What it holds, for the journal (so `umlbuild cleanup` can release it after SIGKILL). */
  resource?: Resource;
}

/** What `keep` does with a journaled resource: leave it (for `umlbuild cleanup`), release it now, or forget it (it was never made). */
export type KeepChoice = 'keep' | 'release' | 'gone';

export interface TeardownFailure {
  label: string;
  error: unknown;
}

export class Teardown {
  private items: Item[] = [];
  /** Where releases report what they had to do (processes killed before an unmount); the build sets it. */
  warn: (line: string) => void = () => undefined;
  /** Told each release's result (error undefined: released); the build turns them into teardown events. */
  onResult?: (label: string, error?: unknown) => void;

  constructor(
    private readonly onRelease?: (label: string) => void,
    readonly journal?: Journal,
  ) {}

  defer(label: string, fn: () => Promise<void> | void, opts: DeferOptions = {}): TeardownEntry {
    const item: Item = { label, fn, onlyOnFailure: opts.onlyOnFailure ?? false };
    if (opts.resource && this.journal) {
      item.journalId = this.journal.add(opts.resource);
      item.resource = opts.resource;
    }
    this.items.push(item);
    return {
      label,
      release: async () => {
        if (!this.remove(item)) return;
        this.onRelease?.(label);
        try {
          await item.fn();
        } catch (e) {
          this.onResult?.(label, e);
          throw e;
        }
        this.forget(item);
        this.onResult?.(label);
      },
      drop: () => {
        if (this.remove(item)) this.forget(item);
      },
    };
  }

  private forget(item: Item): void {
    if (item.journalId !== undefined) this.journal?.forget(item.journalId);
  }

  get labels(): string[] {
    return this.items.map((i) => i.label);
  }

  private remove(item: Item): boolean {
    const i = this.items.indexOf(item);
    if (i < 0) return false;
    this.items.splice(i, 1);
    return true;
  }

  /** Run one entry's release; a failure is collected, not thrown, so the rest still unwind. */
  private async release(item: (typeof this.items)[number], failures: TeardownFailure[]): Promise<void> {
    try {
      this.onRelease?.(item.label);
      await item.fn();
      this.forget(item);
      this.onResult?.(item.label);
    } catch (error) {
      failures.push({ label: item.label, error });
      this.onResult?.(item.label, error);
    }
  }

  /** Unwind everything, newest first. `failed` also runs failure-only entries. */
  async unwind(failed: boolean): Promise<TeardownFailure[]> {
    const failures: TeardownFailure[] = [];
    while (this.items.length) {
      const item = this.items.pop()!;
      if (item.onlyOnFailure && !failed) {
        this.forget(item);
        continue;
      }
      await this.release(item, failures);
    }
    return failures;
  }

  /**
   * A failed build kept for inspection (`--on-failure keep`): newest first,
   * release what `choose` says to and every entry that holds nothing journaled
   * (restoring files, stopping listeners), forget what is `gone`, and leave the
   * rest recorded in the journal, marked kept, for `umlbuild cleanup`. The
   * resources left, oldest first.
   */
  async keep(choose: (r: Resource) => Promise<KeepChoice> | KeepChoice): Promise<{ kept: Resource[]; failures: TeardownFailure[] }> {
    const kept: Resource[] = [];
    const failures: TeardownFailure[] = [];
    while (this.items.length) {
      const item = this.items.pop()!;
      const choice = item.resource ? await choose(item.resource) : 'release';
      if (choice === 'keep') {
        kept.unshift(item.resource!);
        continue;
      }
      if (choice === 'gone') {
        this.forget(item);
        continue;
      }
      await this.release(item, failures);
    }
    if (kept.length) this.journal?.markKept();
    return { kept, failures };
  }
}
