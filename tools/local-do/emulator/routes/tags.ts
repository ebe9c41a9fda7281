// /v2/tags and a tag's resources (images and Droplets tagged and untagged).
import { HttpError, notFound } from "../world";
import type { Route } from "./route";

export const tagRoutes: Route[] = [
  {
    method: "POST",
    path: /^\/v2\/tags$/,
    handle: ({ world, body }) => {
      const name = body().name as string;
      if (!name || !/^[a-zA-Z0-9_\-:]{1,255}$/.test(name))
        throw new HttpError(422, "unprocessable_entity", "name must be 1-255 letters, numbers, colons, dashes and underscores");
      world.addTags([name]);
      world.save();
      return { status: 201, json: { tag: { name, resources: { count: 0 } } } };
    },
  },
  ...(["POST", "DELETE"] as const).map((method): Route => ({
    method,
    path: /^\/v2\/tags\/([^/]+)\/resources$/,
    handle: ({ world, params, body }) => {
      const tag = decodeURIComponent(params[0]);
      if (!world.state.tags.includes(tag)) throw notFound();
      for (const r of (body().resources as { resource_id: string; resource_type: string }[]) ?? []) {
        const target =
          r.resource_type === "image"
            ? world.state.images.find((i) => String(i.id) === r.resource_id)
            : r.resource_type === "droplet"
              ? world.state.droplets.find((d) => String(d.id) === r.resource_id)
              : undefined;
        if (!target) throw new HttpError(404, "not_found", `${r.resource_type} ${r.resource_id} was not found`);
        if (method === "POST" && !target.tags.includes(tag)) target.tags.push(tag);
        if (method === "DELETE") target.tags = target.tags.filter((t) => t !== tag);
      }
      world.save();
      return { status: 204 };
    },
  })),
];
