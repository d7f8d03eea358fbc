/** What a front end needs to report results: secret masking, the check summary, the version. */
export { redact } from '../host/secrets.js';
export { checkSummary, type Check } from '../uml/boot-test.js';
export { VERSION } from '../version.js';
export { recipeJsonSchema } from '../schema.js';
