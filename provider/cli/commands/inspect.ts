// `do-image inspect`: an image's format, sizes and partitions, from the metadata alone.
import type { CommandSpec } from "../args";
import { FILE_ARG, jsonFlag, run } from "../common";
import { EXIT } from "../../errors";
import { writeOut } from "../output";

export const inspect: CommandSpec = {
  name: "inspect",
  description: "show an image's format, sizes and partitions, reading only the metadata it needs",
  args: [FILE_ARG],
  flags: [jsonFlag("print a JSON report")],
  run: async ([file], opts) => {
    const [{ inspectImage }, { renderInspect }] = await Promise.all([import("../../image/inspect"), import("../inspect")]);
    await run(
      opts.json as boolean,
      async () => {
        const report = await inspectImage(file as string);
        if (!opts.json) writeOut(`${renderInspect(report)}\n`);
        process.exitCode = report.findings.some((f) => f.severity === "error") ? EXIT.refused : EXIT.ok;
        return report;
      },
      file as string,
    );
  },
};
