// `do-image regions add`: an image copied to more regions, in parallel.
import type { CommandSpec } from "../args";
import { client, duration, imageId, jsonFlag, run } from "../common";
import { UsageError } from "../../errors";
import { writeOut, writeErr } from "../output";

export const regions: CommandSpec = {
  name: "regions",
  description: "manage an image's regions",
  commands: [
    {
      name: "add",
      description: "copy an image to more regions, in parallel, and wait",
      args: [
        { name: "id", description: "image id", parse: imageId },
        { name: "regions", description: "region slugs", variadic: true },
      ],
      flags: [
        {
          name: "timeout",
          value: "<duration>",
          description:
            "how long to wait for each transfer: 3600s, 60m or 1h (default 1h); a bare number is still minutes in this release, with a warning, and seconds from the next",
          parse: (v: string) => duration(v, "m"),
        },
        jsonFlag(),
      ],
      run: async ([idArg, regionsArg], o) => {
        const id = idArg as number;
        const regions = regionsArg as string[];
        const [{ addRegions, REGION_SLUG }, { progressPrinter }, { imageJson }] = await Promise.all([
          import("../../publish"),
          import("../progress"),
          import("../images"),
        ]);
        const bad = regions.filter((r) => !REGION_SLUG.test(r));
        if (bad.length)
          throw new UsageError(`${bad.join(", ")}: not a region slug`, { fix: "region slugs are three letters and a digit, e.g. nyc3", field: "<regions...>" });
        const timeout = o.timeout as ReturnType<typeof duration> | undefined;
        if (timeout?.unitless)
          writeErr(
            `warning: --timeout ${timeout.seconds / 60} is read as minutes, as before; bare numbers will be seconds in the next release, as for boot: write ${timeout.seconds / 60}m or ${timeout.seconds}s\n`,
          );
        const printer = progressPrinter();
        await run(o.json as boolean, async () => {
          const image = await addRegions(await client(o), id, regions, { timeoutMinutes: (timeout?.seconds ?? 3600) / 60, onEvent: printer.onEvent });
          printer.stop();
          if (!o.json) writeOut(`${image.id}\t${image.regions.join(",")}\n`);
          return imageJson(image);
        });
      },
    },
  ],
};
