/** NDJSON event streams in tests: parse, check every event against docs/events.schema.json, and the one final event. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv } from 'ajv';
import { PROJECT } from '../helpers.js';

export type Event = { type: string; time: string; [k: string]: unknown };

const schema = JSON.parse(readFileSync(join(PROJECT, 'docs/events.schema.json'), 'utf8')) as object;
const validate = new Ajv({ allErrors: true, strict: true }).compile(schema);
const FINAL = ['build-finished', 'build-failed', 'validate-finished', 'validate-failed'];

/**
 * The events of an NDJSON stdout: every line one event the committed JSON
 * Schema accepts, and exactly one final event, last, of `finalType` with the
 * exit code the process ended with.
 */
export function checkEvents(stdout: string, exitCode: number | undefined, finalType: string): Event[] {
  const lines = stdout.split('\n').filter((l) => l !== '');
  assert.ok(lines.length > 0, 'some events');
  const events = lines.map((l, i) => {
    let e: Event;
    try {
      e = JSON.parse(l) as Event;
    } catch {
      assert.fail(`stdout line ${i + 1} is not JSON: ${l}`);
    }
    assert.ok(validate(e), `event ${i + 1} does not match docs/events.schema.json: ${l}\n${JSON.stringify(validate.errors)}`);
    return e;
  });
  const finals = events.filter((e) => FINAL.includes(e.type));
  assert.equal(finals.length, 1, `exactly one final event: ${finals.map((e) => e.type).join(', ')}`);
  assert.equal(events.at(-1), finals[0], 'the final event is the last');
  assert.equal(finals[0]!.type, finalType, JSON.stringify(finals[0]));
  assert.equal(finals[0]!.exitCode, exitCode, `the final event's exitCode is the exit code: ${JSON.stringify(finals[0])}`);
  return events;
}
