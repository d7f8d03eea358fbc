/**
 * `template`: render an ejs template into the rootfs. Built-in templates:
 * `fstab`, `hostname`, `hosts`, `interfaces` (each with its usual
 * destination), or a path to your own `.ejs` file (relative to the recipe).
 * Templates see every recipe variable, `fs_type` (from mkfs), `root_device`,
 * `root_options` and anything under `data`. An undefined name is an error.
 * Nothing is HTML-escaped (`<%= %>` writes the value as it is); the values the
 * built-in templates read are checked when the recipe is loaded (model/values).
 *
 * ```yaml
 * - step: template
 *   template: interfaces        # or: templates/motd.ejs
 *   dest: /etc/network/interfaces   # optional for built-ins
 *   mode: "0644"                # optional
 *   data: { extra: value }      # optional
 * ```
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';
import type { Step, StepContext, VerifyContext } from './types.js';
import { file as fileEdit } from '../edits/model.js';
import { runEdits } from './file-edits.js';
import { guestPath, modeString } from './options.js';
import { TEMPLATE_INPUTS } from '../model/values.js';
import { renderTemplate, TEMPLATE_DIR } from '../templates/render.js';

export const BUILTIN: Record<string, string> = {
  fstab: '/etc/fstab',
  hostname: '/etc/hostname',
  hosts: '/etc/hosts',
  interfaces: '/etc/network/interfaces',
};

const schema = z
  .object({
    template: z.string().min(1),
    dest: guestPath.optional(),
    mode: modeString.default('0644'),
    data: z.record(z.string(), z.unknown()).default({}),
  })
  .strict()
  .refine((o) => o.dest || o.template in BUILTIN, { message: 'dest is required for a template that is not built in', path: ['dest'] });

type Options = z.infer<typeof schema>;

function templateFile(o: Options, recipeDir: string): string {
  if (o.template in BUILTIN) return `${TEMPLATE_DIR}${o.template}.ejs`;
  return isAbsolute(o.template) ? o.template : resolve(recipeDir, o.template);
}

function rootOptions(fsType: string, discard: boolean): string {
  if (fsType === 'hostfs') return 'defaults';
  const opts = [...(discard ? ['discard'] : []), ...(fsType.startsWith('ext') ? ['errors=remount-ro'] : [])];
  return opts.join(',') || 'defaults';
}

export function templateLocals(ctx: Pick<StepContext, 'vars' | 'facts'>, data: Record<string, unknown>): Record<string, unknown> {
  const fsType = ctx.facts.fsType ?? 'ext4';
  return {
    fs_type: fsType,
    root_device: fsType === 'hostfs' ? '/dev/root' : '/dev/ubda',
    root_options: rootOptions(fsType, ctx.vars.discard !== false),
    ...ctx.vars,
    ...data,
  };
}

export const template: Step<Options> = {
  kind: 'template',
  summary: 'render an ejs template (fstab, hostname, hosts, interfaces, or your own) into the rootfs',
  schema,
  traits: { requires: ['root'], inVariant: 'tree', writes: (o) => (o.template in BUILTIN ? [BUILTIN[o.template]!] : []) },
  title: (o) => `Write ${o.dest ?? BUILTIN[o.template]} from ${o.template}`,
  inputs: (o) => ({ schemas: o.template in BUILTIN ? (TEMPLATE_INPUTS[o.template] ?? {}) : {}, data: o.data }),
  async verify(o, ctx: VerifyContext) {
    const file = templateFile(o, ctx.recipeDir);
    try {
      // A dry render finds undefined names before anything is built.
      await renderTemplate(file, templateLocals({ vars: ctx.vars, facts: {} }, o.data));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      ctx.problem(code === 'ENOENT' ? `template file ${file} does not exist` : (e as Error).message, 'template');
    }
  },
  async edits(o, ctx) {
    const text = await renderTemplate(templateFile(o, ctx.recipeDir), templateLocals(ctx, o.data));
    const dest = o.dest ?? BUILTIN[o.template]!;
    ctx.log(`writing ${dest} (${text.length} bytes)`);
    // A link at dest is written through, inside the root (an image refuses it).
    return [fileEdit(dest, text, { mode: parseInt(o.mode, 8), link: 'follow' })];
  },
  run: (o, ctx) => runEdits(template, o, ctx),
};
