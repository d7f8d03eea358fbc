/** listr2 renderers: the default one on a TTY, plain lines otherwise (CI). */
export type RendererName = 'auto' | 'simple' | 'verbose' | 'silent';

export function rendererOptions(name: RendererName) {
  const options = { rendererOptions: { outputBar: 6, persistentOutput: false, collapseErrors: false } };
  switch (name) {
    case 'simple':
      return { ...options, renderer: 'simple' as const };
    case 'verbose':
      return { ...options, renderer: 'verbose' as const };
    case 'silent':
      return { ...options, renderer: 'silent' as const };
    default:
      return { ...options, renderer: 'default' as const, fallbackRenderer: 'simple' as const };
  }
}
