// `do-image validate`: every DigitalOcean requirement judged locally, and a boot to decide when asked.
import type { CommandSpec } from "../args";
import { BOOT_FLAGS, BOOT_WHEN_FLAG, FILE_ARG, bootOptions, checkIds, jsonFlag, run } from "../common";
import { EXIT } from "../../errors";
import { writeOut, writeErr } from "../output";
import { colour as c } from "../format";
import type { BootWhen } from "../../boot";

export const validate: CommandSpec = {
  name: "validate",
  description: "judge every DigitalOcean requirement locally: format, size, partitions, filesystem, cloud-init, datasources, sshd, boot",
  args: [FILE_ARG],
  flags: [
    jsonFlag('print the JSON report: { "file", "ok", "checks": [ { "id", "status", "message", "evidence", "fix" } ] }'),
    { name: "skip", value: "<ids>", description: "comma-separated check ids whose failures count as warnings", parse: checkIds },
    BOOT_WHEN_FLAG,
    ...BOOT_FLAGS,
  ],
  run: async ([file], opts) => {
    const [{ validateImage, unreadable }, { renderValidate }] = await Promise.all([import("../../image/checks/validate"), import("../validate")]);
    await run(
      opts.json as boolean,
      async () => {
        const options = { skip: opts.skip as string[] | undefined };
        const report =
          opts.boot === "never"
            ? await validateImage(file as string, options)
            : await (
                await import("../../boot")
              ).validateWithBoot(file as string, {
                ...options,
                boot: opts.boot as BootWhen,
                bootOptions: bootOptions(opts),
                onBoot: (why) => writeErr(`${c.dim("boot")} booting the image as a Droplet: ${why}\n`),
              });
        writeOut(`${opts.json ? JSON.stringify(report, null, 2) : renderValidate(report)}\n`);
        process.exitCode = unreadable(report) ? EXIT.unreadable : report.ok ? EXIT.ok : EXIT.refused;
      },
      file as string,
    );
  },
};
