/** Option types shared by several steps. */
import { z } from 'zod';

/** An absolute path inside the guest that does not climb out with `..`. */
export const guestPath = z
  .string()
  .regex(/^\//, 'must be an absolute path inside the rootfs')
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

/** A file mode written as an octal string, e.g. "0644". */
export const modeString = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => /^0?[0-7]{3,4}$/.test(v), 'must be an octal mode such as "0644"');

/**
 * `allow:` of the steps that take a whole root tree made elsewhere
 * (rootfs-tarball, rootfs-dir): device nodes and fifos only when allowed.
 * Setuid files and hard links are what such trees are made of, and are kept.
 */
export const rootfsAllow = z.array(z.enum(['devices'])).default([]);
export const ROOTFS_ALWAYS_ALLOWED = ['setuid', 'hardlinks'] as const;
