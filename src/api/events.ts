/**
 * `--log-format ndjson` for the commands: one JSON event per line, and
 * exactly one final event (build-finished/build-failed, or
 * validate-finished/validate-failed) with the exit code, whatever ended the
 * command: a rejected recipe, a host error, a failed step, variant or hook, an
 * interrupt, --artifacts or --test.
 */
import { VERSION } from '../version.js';
import { type BuildEvent, emitter, type EventListener, eventsJsonSchema as schemaOf, exitCodeOf, messageOf, validationEvents } from '../runner/events.js';

export type { BuildEvent, EventListener };
export { exitCodeOf };

/** The JSON Schema of one event (docs/events.schema.json). */
export function eventsJsonSchema(): Record<string, unknown> {
  return schemaOf(VERSION);
}

let ended = false;
/** Whether this process has written a final event (so cli.ts does not add another). */
export const finalEventWritten = (): boolean => ended;

export interface EventLog {
  /** For build(): passes its events on but keeps its final one back; the command ends the stream. */
  onEvent: EventListener;
  /** Any other event (redacted, stamped). */
  emit(e: BuildEvent): void;
  /** The final build-finished (exit code 0) of the build() that reported one. */
  finished(): void;
  /** The final validate-finished. */
  validated(recipe: string, steps: number): void;
  /** The final event of a failure: the problems of a rejected recipe first (unless build() reported them). */
  failed(e: unknown, type?: 'build-failed' | 'validate-failed'): void;
}

export function eventLog(write: (line: string) => void): EventLog {
  const emit = emitter((e) => write(JSON.stringify(e)));
  let finished: Extract<BuildEvent, { type: 'build-finished' }> | undefined;
  let reported = false;
  const end = (e: BuildEvent) => {
    if (ended) return;
    ended = true;
    emit(e);
  };
  return {
    onEvent: (e) => {
      if (e.type === 'build-finished') {
        const { time: _, ...rest } = e;
        finished = rest;
      } else if (e.type === 'build-failed') reported = true;
      else write(JSON.stringify(e));
    },
    emit,
    finished: () => {
      if (!finished) throw new Error('no build-finished to end the stream with');
      end({ ...finished, exitCode: 0 });
    },
    validated: (recipe, steps) => end({ type: 'validate-finished', recipe, steps, exitCode: 0 }),
    failed: (e, type = 'build-failed') => {
      if (!reported && !ended) for (const v of validationEvents(e)) emit(v);
      end({ type, error: messageOf(e), exitCode: exitCodeOf(e) } as BuildEvent);
    },
  };
}
