/** Build facts: plain data (model layer: imports nothing of ours but model/). */
import type { BuiltKernel } from './kernel.js';

/** What steps learn about the image for the manifest and templates. */
export interface BuildFacts {
  fsType?: string;
  fsUuid?: string;
  kernelVersion?: string;
  /** The kernel a `kernel` step built (its files travel with the image: runner/outputs). */
  kernel?: BuiltKernel;
  packages?: { name: string; version: string }[];
  suite?: string;
  mirror?: string;
}
