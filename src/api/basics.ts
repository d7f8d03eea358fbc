/**
 * What the command line needs before a command runs, and nothing heavy: the
 * version, the named errors and exit codes, secret masking, the hook stages.
 * The CLI imports only this module of the API statically and loads the rest
 * when a command runs, so `umlbuild --version` and `--help` start without
 * zod, execa, listr2 or the steps (test/unit/startup.test.ts keeps it so;
 * `npm run bench:startup` measures it).
 */
export { VERSION } from '../version.js';
export { EXIT, InterruptedError, RecipeError, UserError } from '../errors.js';
export { redact } from '../host/secrets.js';
export { HOOK_STAGES, type HookStage } from '../model/hook-stages.js';
export { ON_FAILURE, type OnFailure } from '../model/on-failure.js';
export { closest as closestName } from '../model/names.js';
export { SHELLS, type Shell } from '../model/shells.js';
