/** What `--on-failure` may say (runner/on-failure.ts acts on it): data, so the CLI can declare the option without loading the runner. */
export const ON_FAILURE = ['cleanup', 'keep', 'shell'] as const;
export type OnFailure = (typeof ON_FAILURE)[number];
