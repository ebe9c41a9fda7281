// `do-image ls`: the account's custom images, as a table or JSON.
import type { CommandSpec } from "../args";
import { client, jsonFlag, list, run } from "../common";
import { UsageError } from "../../errors";
import { writeOut } from "../output";

export const ls: CommandSpec = {
  name: "ls",
  description: "list your custom images",
  flags: [
    { name: "tag", value: "<tag>", description: "only images with this tag" },
    { name: "format", value: "<columns>", description: `columns to show, comma-separated (default ${"ID,Name,Status,Regions,Distribution,Size"})` },
    { name: "no-header", description: "leave out the header line" },
    jsonFlag(),
  ],
  run: async (_args, o) => {
    const { imageJson, renderImages, LS_COLUMNS, LS_DEFAULT_FORMAT } = await import("../images");
    const columns = list((o.format as string | undefined) ?? LS_DEFAULT_FORMAT);
    const bad = columns.filter((k) => !LS_COLUMNS[k]);
    if (bad.length)
      throw new UsageError(`--format: unknown column ${bad.join(", ")}`, { fix: `use any of ${Object.keys(LS_COLUMNS).join(", ")}`, field: "--format" });
    await run(o.json as boolean, async () => {
      const images = [];
      for await (const i of (await client(o)).images.list({ private: true, tagName: o.tag as string | undefined }))
        if (i.type === "custom") images.push(imageJson(i));
      if (!o.json) {
        const text = renderImages(images, columns, o.header as boolean);
        if (text) writeOut(`${text}\n`);
      }
      return images;
    });
  },
};
