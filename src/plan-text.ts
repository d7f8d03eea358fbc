/** The resolved plan as text, for `--dry-run` and `validate`; secrets redacted. */
import { stringify } from 'yaml';
import { REDACTED, redact } from './host/secrets.js';
import { withoutCredentials } from './host/proxy.js';
import type { Plan } from './recipe/load.js';
import { publicVariables } from './output/manifest.js';

function hideKeys(value: unknown, keys: readonly string[]): unknown {
  if (Array.isArray(value)) return value.map((v) => hideKeys(v, keys));
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, keys.includes(k) && v ? REDACTED : hideKeys(v, keys)]));
  }
  return value;
}

/** The plan as YAML; each step with a `resolved` hook shows what this host decided for it (mirror, keyring) and why. */
export async function planText(plan: Plan, outDir: string): Promise<string> {
  const resolved = await Promise.all(plan.steps.map((s) => s.step.resolved?.(s.options)));
  const doc = {
    recipe: plan.file,
    name: plan.name,
    output: `${outDir}/${plan.output}.img`,
    variables: publicVariables(plan),
    ...(plan.aptProxy ? { apt_proxy: `${withoutCredentials(plan.aptProxy)} (the bootstrap and chroot commands' http_proxy; not written into the image)` } : {}),
    launch: plan.launch,
    steps: plan.steps.map((s, i) => ({ step: s.kind, title: s.title, ...(hideKeys(s.options, s.step.secretKeys ?? []) as object), ...(resolved[i] ? { resolved: resolved[i] } : {}) })),
  };
  return redact(stringify(doc, { lineWidth: 0 }));
}
