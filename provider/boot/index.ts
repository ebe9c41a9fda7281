// Public face of boot/: start an image as a Droplet starts, locally in QEMU, and report each stage it reached.
export { bootImage, startGuest, type BootOptions, type BootReport, type BootVerdict, type RunningGuest } from "./boot";
export { STAGES, type Stage, type StageReport, type StageStatus } from "./stages";
export { buildIso9660, type IsoFile } from "./iso9660";
export { validateWithBoot, judgeWithBoot, bootReason, BOOT_PREDICTING, type BootedValidation, type ValidateWithBootOptions } from "./validate";
export { BOOT_WHEN, type BootWhen } from "./when";
