/** Build facts: plain data (model layer: imports nothing of ours). */

/** What steps learn about the image for the manifest and templates. */
export interface BuildFacts {
  fsType?: string;
  fsUuid?: string;
  kernelVersion?: string;
  packages?: { name: string; version: string }[];
  suite?: string;
  mirror?: string;
}
