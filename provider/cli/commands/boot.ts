// `do-image boot`: the image started in QEMU as a Droplet, and a login over SSH.
import type { CommandSpec } from "../args";
import { BOOT_FLAGS, FILE_ARG, bootOptions, jsonFlag, run } from "../common";
import { EXIT } from "../../errors";
import { writeOut } from "../output";

export const boot: CommandSpec = {
  name: "boot",
  description: "boot the image locally in QEMU as DigitalOcean starts a Droplet, and log in over SSH",
  args: [FILE_ARG],
  flags: [jsonFlag("print the JSON report"), ...BOOT_FLAGS],
  run: async ([file], o) => {
    const [{ bootImage }, { renderBoot }] = await Promise.all([import("../../boot"), import("../boot")]);
    await run(
      o.json as boolean,
      async () => {
        const report = await bootImage(file as string, bootOptions(o));
        if (!o.json) writeOut(`${renderBoot(report)}\n`);
        process.exitCode = report.verdict === "works" ? EXIT.ok : EXIT.refused;
        return report;
      },
      file as string,
    );
  },
};
