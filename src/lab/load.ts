/** Placeholder until the lab file and Netkit loaders land (issue 16, helper "labload"): replaced when merging. */
import { EXIT, UserError } from '../errors.js';
import type { Lab } from '../model/lab.js';

export async function loadLab(path: string): Promise<Lab> {
  throw new UserError(`${path}: reading lab files is not implemented in this build yet`, EXIT.invalid);
}
