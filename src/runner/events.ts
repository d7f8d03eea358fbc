/**
 * Progress events of a build, for the library API (BuildOptions.onEvent) and
 * `--log-format ndjson`; their vocabulary and schema are model/events.ts.
 * Every string in them has passed through redact(): no secret reaches a
 * listener.
 */
import { UserError, EXIT, RecipeError } from '../errors.js';
import { redact } from '../host/secrets.js';
import type { BuildEvent } from '../model/events.js';

export { type BuildEvent, buildEventSchema, eventsJsonSchema, FINAL_EVENTS } from '../model/events.js';

export type EventListener = (e: BuildEvent & { time: string }) => void;

const clean = (v: unknown): unknown => (typeof v === 'string' ? redact(v) : Array.isArray(v) ? v.map(clean) : v);

/** Redact every string field, stamp the time, and hand the event on. */
export function emitter(listener?: EventListener): (e: BuildEvent) => void {
  if (!listener) return () => undefined;
  return (e) => {
    const redacted = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, clean(v)])) as BuildEvent;
    listener({ ...redacted, time: new Date().toISOString() });
  };
}

/** The exit code an error ends umlbuild with (cli.ts maps errors the same way). */
export function exitCodeOf(e: unknown): number {
  return e instanceof UserError ? e.exitCode : EXIT.buildFailed;
}

/** The message of an error, for an event. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** One validation-error event per problem of a rejected recipe or command line (none for other errors). */
export function validationEvents(e: unknown): BuildEvent[] {
  if (!(e instanceof RecipeError)) return [];
  return e.issues.map((i) => ({ type: 'validation-error' as const, file: i.file, ...(i.line ? { line: i.line, column: i.col ?? 1 } : {}), path: i.path, message: i.message }));
}
