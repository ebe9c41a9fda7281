// When `validate` boots an image to decide: a leaf that input rules and faces import without loading the boot harness.

/** auto: when a check that predicts the boot warns or cannot judge; always; never (the default). */
export const BOOT_WHEN = ["auto", "always", "never"] as const;
export type BootWhen = (typeof BOOT_WHEN)[number];
