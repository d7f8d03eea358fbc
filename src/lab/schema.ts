/**
 * The shape of umlbuild's lab file (lab/load.ts documents the format) as zod
 * schemas: strict, so an unknown key is an error. What needs more than one
 * key to check (a segment or machine a key names, routes against addresses,
 * image or recipe) is checked by the loader, which locates each problem.
 * `labJsonSchema()` is the same shape as a JSON Schema for editors;
 * labs/lab.schema.json is its output and the shipped labs point to it.
 */
import { z } from 'zod';
import { lineValue } from '../model/values.js';
import { VERSION } from '../version.js';

/** Machine, segment and lab names: they become file names, umids and interface names, so a plain charset. */
export const LAB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$/;
export const LAB_NAME_RULE = 'letters, digits, "-" and "_", starting with a letter or digit, at most 32 characters';
/** A guest interface: eth0 ... eth63. */
export const IFACE_NAME = /^eth([1-5]?[0-9]|6[0-3])$/;
/** UML's mem=: a number of bytes with K, M or G. */
export const MEMORY = /^[1-9][0-9]*[KMGkmg]?$/;

const labName = z.string().regex(LAB_NAME, `not a valid name (${LAB_NAME_RULE})`);
const memory = z.union([z.string().regex(MEMORY, 'use a number with K, M or G (128M)'), z.number().int().positive()]);
const setValues = z.record(z.string(), z.union([z.string(), z.number(), z.boolean()]));

/** Where a machine's disk comes from: one of image or recipe (set: the recipe's variables). */
const sourceKeys = {
  /** An image umlbuild built (its manifest beside it), relative to the lab file. */
  image: z.string().min(1).optional(),
  /** A shipped recipe's name (busybox) or a recipe file relative to the lab file: built, or reused from the cache. */
  recipe: z.string().min(1).optional(),
  /** The recipe's variables (--set NAME=VALUE). */
  set: setValues.optional(),
  /** UML's mem= (128M); default: the image's own. */
  memory: memory.optional(),
};

export const labDefaultsSchema = z.strictObject(sourceKeys);

export const labInterfaceSchema = z.strictObject({
  segment: z.string(),
  /** ADDRESS/PREFIX (10.0.1.2/24, fd00::2/64). */
  address: z.string().optional(),
  /** A fixed unicast MAC (02:00:00:00:00:01); default: derived from the lab, machine and interface names. */
  mac: z.string().optional(),
});

/** A guest file: the host file's path, or { source, mode }. */
export const labFileSchema = z.union([
  z.string().min(1),
  z.strictObject({
    source: z.string().min(1),
    mode: z
      .string()
      .regex(/^0?[0-7]{3,4}$/, 'an octal mode (0644)')
      .optional(),
  }),
]);

export const labMachineSchema = z.strictObject({
  ...sourceKeys,
  /** Guest device (eth0, eth1, ...) -> its segment and address. */
  interfaces: z.record(z.string().regex(IFACE_NAME, 'not an interface name (eth0 ... eth63)'), labInterfaceSchema).optional(),
  /** `DEST via GATEWAY`, DEST an ADDRESS/PREFIX or `default`. */
  routes: z.array(lineValue).optional(),
  /** Guest path -> host file (relative to the lab file, inside its directory). */
  files: z.record(z.string(), labFileSchema).optional(),
  /** A directory (relative to the lab file, inside its directory) copied onto the machine's root before it boots. */
  tree: z.string().min(1).optional(),
  /** Shell commands run as root once the machine is up and its interfaces are configured. */
  startup: z.union([z.string(), z.array(z.string())]).optional(),
  /** Machines that must be up (startup done) before this one boots. */
  after: z.array(z.string()).optional(),
});

/** One check: `on` a machine, exactly one of ping, tcp or run. */
export const labCheckSchema = z.strictObject({
  /** The check's name in the report; default: "MACHINE: ping ADDRESS" and the like. */
  name: lineValue.optional(),
  /** The machine it runs on. */
  on: z.string(),
  /** Ping this address (or the first address of this machine). */
  ping: z.string().optional(),
  /** ping: packets to send (default 3). */
  count: z.number().int().min(1).max(100).optional(),
  /** Send mbytes MiB over TCP to a machine. */
  tcp: z
    .strictObject({
      /** The receiving machine. */
      to: z.string(),
      /** Its address; default: its first interface's. */
      address: z.string().optional(),
      port: z.number().int().min(1).max(65535).optional(),
      /** MiB to send (default 1). */
      mbytes: z.number().positive().max(4096).optional(),
    })
    .optional(),
  /** Run this shell command as root. */
  run: z.string().optional(),
  /** run: a regular expression its output (stdout and stderr) must match. */
  expect: z.string().optional(),
  /** run: the exit status that passes (default 0). */
  status: z.number().int().min(0).max(255).optional(),
});

export const labTestsSchema = z.array(labCheckSchema);

export const labYamlSchema = z.strictObject({
  $schema: z.string().optional(),
  /** The lab's name (its network namespace, COW files and umids carry it); default: the file's (or directory's) name. */
  name: labName.optional(),
  description: z.string().optional(),
  /** Image or recipe, set and memory for every machine that gives none. */
  defaults: labDefaultsSchema.optional(),
  /** The segments (collision domains): a list of names, or name -> { uplink: HOST_INTERFACE }. */
  segments: z
    .union([
      z.array(labName),
      z.record(
        labName,
        z
          .strictObject({
            uplink: z
              .string()
              .regex(/^[A-Za-z0-9][\w.-]{0,14}$/, 'a host interface name')
              .optional(),
          })
          .nullable(),
      ),
    ])
    .optional(),
  machines: z.record(labName, labMachineSchema),
  tests: labTestsSchema.optional(),
});

/** The optional umlbuild-tests.yml beside a Netkit lab's lab.conf. */
export const netkitExtrasSchema = z.strictObject({
  $schema: z.string().optional(),
  defaults: labDefaultsSchema.optional(),
  tests: labTestsSchema.optional(),
});

export type LabYaml = z.infer<typeof labYamlSchema>;
export type LabCheckYaml = z.infer<typeof labCheckSchema>;
export type LabDefaultsYaml = z.infer<typeof labDefaultsSchema>;

/** The lab file's JSON Schema (labs/lab.schema.json). */
export function labJsonSchema(): Record<string, unknown> {
  const js = z.toJSONSchema(labYamlSchema, { io: 'input', unrepresentable: 'any', target: 'draft-7' }) as Record<string, unknown>;
  delete js.$schema;
  return {
    $schema: 'http://json-schema.org/draft-07/schema#',
    $id: 'https://umlbuild.invalid/lab.schema.json',
    title: `umlbuild lab (umlbuild ${VERSION})`,
    ...js,
  };
}
