// `do-image convert`: the compressed qcow2 push sends, written to a file.
import type { CommandSpec } from "../args";
import { FILE_ARG, jsonFlag, run } from "../common";
import { UsageError } from "../../errors";
import { writeOut } from "../output";

export const convert: CommandSpec = {
  name: "convert",
  description: "write the image as the compressed qcow2 push sends: only its non-zero clusters, deflated (qemu-img reads it)",
  args: [FILE_ARG, { name: "output", description: "the qcow2 file to write (replaced if it exists)" }],
  flags: [
    { name: "auto", description: "convert only where push's --upload-as auto would (raw disks, containers of uncompressed data); else say why not" },
    jsonFlag("print the result as JSON"),
  ],
  run: async ([fileArg, outputArg], o) => {
    const file = fileArg as string;
    const output = outputArg as string;
    const [{ openImage }, { writeCompressedQcow2, replaceableTarget }, { uploadFormatFor }, { bytes }, { realpath }] = await Promise.all([
      import("../../image"),
      import("../../publish/qcow2"),
      import("../../publish/upload-format"),
      import("../format"),
      import("node:fs/promises"),
    ]);
    await run(
      o.json as boolean,
      async () => {
        // Before any work: what <output> names must be a file the result may replace, and not the image itself.
        const target = await replaceableTarget(output);
        if (target === (await realpath(file).catch(() => file)))
          throw new UsageError(`<output> is ${file} itself`, { fix: "name another file: the image is read while the qcow2 is written", field: "<output>" });
        const choice = await uploadFormatFor(file, o.auto ? "auto" : "qcow2");
        if (choice.format !== "qcow2") {
          if (!o.json) writeOut(`not converted: ${choice.reason}\n`);
          return { file, output: null, converted: false, reason: choice.reason };
        }
        const image = await openImage(file);
        try {
          const stats = await writeCompressedQcow2(image.disk, output);
          if (!o.json)
            writeOut(
              `wrote ${output}: ${bytes(stats.size)}, a compressed qcow2 of a ${bytes(stats.virtualSize)} disk (${stats.dataClusters} clusters of data)\n`,
            );
          return { file, output, converted: true, reason: choice.reason, ...stats };
        } finally {
          await image.close();
        }
      },
      file,
    );
  },
};
