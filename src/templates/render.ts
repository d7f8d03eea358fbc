/** Render an EJS template: the built-in ones beside this file (fstab, hostname, hosts, interfaces, launch script) or a recipe's. */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import ejs from 'ejs';

/** The built-in templates (this directory; copied beside the compiled file by `npm run build`). */
export const TEMPLATE_DIR = fileURLToPath(new URL('./', import.meta.url));

/** Files in a root tree are not HTML: `<%= x %>` writes x as it is unless `escape` says otherwise. */
const asIs = (v: unknown): string => (v === undefined || v === null ? '' : String(v));

export async function renderTemplate(file: string, locals: Record<string, unknown>, escapeValue: (v: unknown) => string = asIs): Promise<string> {
  const text = await readFile(file, 'utf8');
  try {
    return await ejs.render(text, locals, { async: true, filename: file, strict: false, escape: escapeValue });
  } catch (e) {
    const msg = (e as Error).message.split('\n').filter(Boolean).pop() ?? String(e);
    throw new Error(`template ${file}: ${msg}`);
  }
}
