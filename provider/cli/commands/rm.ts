// `do-image rm`: an image deleted (one already gone is not an error).
import type { CommandSpec } from "../args";
import { client, imageId, jsonFlag, run } from "../common";
import { writeOut } from "../output";

export const rm: CommandSpec = {
  name: "rm",
  description: "delete a custom image (an image already gone is not an error)",
  args: [{ name: "id", description: "image id", parse: imageId }],
  flags: [jsonFlag()],
  run: async ([idArg], o) => {
    const id = idArg as number;
    const { deleteImage } = await import("../../publish");
    await run(o.json as boolean, async () => {
      const r = await deleteImage(await client(o), id);
      if (!o.json) writeOut(r.image === "deleted" ? `deleted image ${id}\n` : `image ${id} was already gone\n`);
      return { id, result: r.image };
    });
  },
};
