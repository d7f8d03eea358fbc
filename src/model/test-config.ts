/** What `umlbuild test` checks: read from a recipe's `test:` and from a manifest beside an image. */
import { z } from 'zod';
import { deviceValue, hostnameValue, lineValue, passwordValue } from './values.js';

/**
 * `test:` what `umlbuild test` checks after logging in to the built image.
 *
 * ```yaml
 * test:
 *   user: root
 *   password: ${root_password}     # never written to the manifest
 *   hostname: ${hostname}
 *   netdev: ${netdev}               # this device must exist in the guest
 *   root: ubd                       # or hostfs
 *   expect: { "uname -r": "^6\\." } # command: regular expression
 * ```
 */
export const testSchema = z
  .object({
    user: z
      .string()
      .regex(/^[a-z_][a-z0-9_-]*\$?$/, 'not a valid user name')
      .default('root'),
    password: passwordValue.optional(),
    hostname: hostnameValue.optional(),
    netdev: deviceValue.optional(),
    root: z.enum(['ubd', 'hostfs']).default('ubd'),
    expect: z.record(lineValue, z.string()).default({}),
    login_timeout: z.number().positive().default(120),
  })
  .strict();

export type TestConfig = z.output<typeof testSchema>;
