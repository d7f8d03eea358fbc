/**
 * A name part unique to this umlbuild process: its pid and a random suffix.
 * The pid alone is not enough: rootless builds run as pid 1 of their own pid
 * namespace, so two of them would pick the same temporary names.
 */
import { randomBytes } from 'node:crypto';

export const RUN_ID = `${process.pid}-${randomBytes(3).toString('hex')}`;
