/**
 * Progress events of a build, for the library API (BuildOptions.onEvent) and
 * `--log-format ndjson`. Every string in them has passed through redact():
 * no secret reaches a listener.
 */
import { redact } from '../host/secrets.js';

export type BuildEvent =
  | { type: 'build-started'; recipe: string; output: string; steps: number }
  | { type: 'step-started'; index: number; total: number; kind: string; title: string; where?: string }
  | { type: 'command'; index: number; command: string }
  | { type: 'output'; index: number; line: string }
  | { type: 'step-finished'; index: number; kind: string; title: string; seconds: number }
  | { type: 'step-failed'; index: number; kind: string; title: string; seconds: number; error: string }
  | { type: 'warning'; message: string }
  | { type: 'build-finished'; image: string; script: string; manifest: string; seconds: number }
  | { type: 'build-failed'; error: string; exitCode: number };

export type EventListener = (e: BuildEvent & { time: string }) => void;

/** Redact every string field, stamp the time, and hand the event on. */
export function emitter(listener?: EventListener): (e: BuildEvent) => void {
  if (!listener) return () => undefined;
  return (e) => {
    const clean = Object.fromEntries(Object.entries(e).map(([k, v]) => [k, typeof v === 'string' ? redact(v) : v])) as BuildEvent;
    listener({ ...clean, time: new Date().toISOString() });
  };
}
