/**
 * The events of `--log-format ndjson` and of the library's `onEvent`: one
 * zod schema per event type, so the vocabulary, its TypeScript type and its
 * JSON Schema (docs/events.schema.json, `umlbuild schema --events`) are one
 * definition. docs/events.md describes them for a reader.
 */
import { z } from 'zod';

const seconds = z.number().nonnegative().describe('wall-clock seconds');
const index = z.number().int().nonnegative().describe('the step position, from 1 (0: outside every step, e.g. teardown)');
const exitCode = z.number().int().nonnegative().describe('the exit code umlbuild ends with (README: exit codes)');

/** The events, each with its `type`; `time` is added when one is emitted. */
export const eventSchemas = [
  z.object({ type: z.literal('build-started'), recipe: z.string(), output: z.string().describe('the image (or hostfs root) being built'), steps: z.number().int().nonnegative() }).describe('the build begins: its steps are about to run'),
  z
    .object({ type: z.literal('step-started'), index, total: z.number().int().nonnegative(), kind: z.string(), title: z.string(), where: z.string().optional().describe('the step in the recipe: steps[N] kind (file:line)') })
    .describe('a step begins'),
  z.object({ type: z.literal('command'), index, command: z.string().describe('the command line, secrets masked') }).describe('a command a step runs'),
  z.object({ type: z.literal('output'), index, line: z.string() }).describe("a line of a step's (or hook's) output"),
  z.object({ type: z.literal('step-finished'), index, kind: z.string(), title: z.string(), seconds }).describe('a step succeeded'),
  z.object({ type: z.literal('step-failed'), index, kind: z.string(), title: z.string(), seconds, error: z.string() }).describe('a step failed (the build then fails)'),
  z.object({ type: z.literal('teardown'), label: z.string().describe('what was released, e.g. "unmount /dev/shm/…"'), ok: z.boolean(), error: z.string().optional() }).describe('a resource released when the build ended (or could not be)'),
  z.object({ type: z.literal('variant-started'), name: z.string(), index: z.number().int().positive(), total: z.number().int().positive() }).describe('a COW variant begins, over the finished image'),
  z
    .object({ type: z.literal('variant-finished'), name: z.string(), cow: z.string(), script: z.string(), manifest: z.string(), allocated: z.number().nonnegative().describe('bytes the COW file allocates'), seconds })
    .describe('a COW variant was written'),
  z.object({ type: z.literal('variant-failed'), name: z.string(), seconds, error: z.string() }).describe('a COW variant failed (the build then fails)'),
  z
    .object({ type: z.literal('hook-finished'), stage: z.string().describe('after-bootstrap, before-pack or after-image'), script: z.string(), seconds })
    .describe('a --hook script succeeded (after-bootstrap and before-pack hooks are also steps of kind "hook")'),
  z.object({ type: z.literal('hook-failed'), stage: z.string(), script: z.string(), seconds, error: z.string() }).describe('a --hook script failed (the build then fails)'),
  z.object({ type: z.literal('warning'), message: z.string() }).describe('something worth knowing that does not stop the build'),
  z
    .object({
      type: z.literal('validation-error'),
      file: z.string().describe('the recipe file (or the option, e.g. "--set")'),
      line: z.number().int().positive().optional().describe('1-based; absent when the problem has no place in a file'),
      column: z.number().int().positive().optional(),
      path: z.string().describe('the key path, e.g. steps[3].size ("" for the whole file)'),
      message: z.string(),
    })
    .describe('one problem of a rejected recipe or command line; a build-failed (or validate-failed) with exit code 2 follows'),
  z.object({ type: z.literal('artifacts'), files: z.array(z.string()) }).describe('the files --artifacts wrote'),
  z
    .object({ type: z.literal('build-finished'), image: z.string(), script: z.string(), manifest: z.string(), seconds, exitCode: exitCode.optional() })
    .describe('FINAL: the build succeeded (the command line adds exitCode 0 once --artifacts and --test are done too)'),
  z.object({ type: z.literal('build-failed'), error: z.string(), exitCode }).describe('FINAL: the build (or its --artifacts or --test) failed, with the exit code'),
  z.object({ type: z.literal('validate-finished'), recipe: z.string(), steps: z.number().int().nonnegative(), exitCode }).describe('FINAL of `umlbuild validate`: the recipe and host are fine'),
  z.object({ type: z.literal('validate-failed'), error: z.string(), exitCode }).describe('FINAL of `umlbuild validate`: with the exit code'),
] as const;

export const buildEventSchema = z.discriminatedUnion('type', eventSchemas);
export type BuildEvent = z.infer<typeof buildEventSchema>;

/** An event as emitted: its fields and when. */
export const emittedEventSchema = z.discriminatedUnion(
  'type',
  eventSchemas.map((s) =>
    s
      .extend({
        time: z
          .string()
          .regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/)
          .describe('when, ISO 8601 UTC'),
      })
      .describe(s.description ?? ''),
  ) as unknown as [z.ZodObject, ...z.ZodObject[]],
);

/** The event types that end a stream: exactly one of them comes last. */
export const FINAL_EVENTS = ['build-finished', 'build-failed', 'validate-finished', 'validate-failed'] as const;

/** The JSON Schema of one emitted event (docs/events.schema.json). */
export function eventsJsonSchema(version: string): Record<string, unknown> {
  const js = z.toJSONSchema(emittedEventSchema, { io: 'output', target: 'draft-7' }) as Record<string, unknown>;
  delete js.$schema;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://umlbuild.invalid/events.schema.json',
    title: `umlbuild event (one line of --log-format ndjson; umlbuild ${version})`,
    ...js,
  };
}
