/** The stages `--hook STAGE=SCRIPT` runs at (steps/hook.ts): data, so the CLI can check the option without loading the steps. */
export const HOOK_STAGES = ['after-bootstrap', 'before-pack', 'after-image'] as const;
export type HookStage = (typeof HOOK_STAGES)[number];
