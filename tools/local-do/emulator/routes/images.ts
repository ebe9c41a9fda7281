// /v2/images, an image, its actions (transfers to other regions), and /v2/actions.
import { runImport } from "../importer";
import type { ActionRec, ImageRec } from "../types";
import { notFound, now, unprocessable } from "../world";
import { paginate, type Route } from "./route";

export const imageRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/v2\/images$/,
    handle: (ctx) => {
      let list = ctx.world.state.images.filter((i) => i.status !== "deleted" || i.error_message);
      const tag = ctx.query.get("tag_name");
      if (tag) list = list.filter((i) => i.tags.includes(tag));
      return {
        status: 200,
        json: paginate(
          ctx,
          "images",
          list.map((i) => ctx.world.imageJson(i)),
        ),
      };
    },
  },
  {
    method: "POST",
    path: /^\/v2\/images$/,
    handle: ({ world, body }) => {
      const b = body();
      for (const f of ["name", "url", "region"]) if (typeof b[f] !== "string" || !b[f]) throw unprocessable(`${f} is required`);
      if (!world.regions.includes(b.region as string)) throw unprocessable(`${b.region} is not a valid region`);
      const tags = Array.isArray(b.tags) ? (b.tags as string[]) : [];
      world.addTags(tags);
      const image: ImageRec = {
        id: world.id(),
        name: b.name as string,
        type: "custom",
        distribution: (b.distribution as string) ?? "Unknown",
        slug: null,
        public: false,
        regions: [b.region as string],
        created_at: now(),
        min_disk_size: null,
        size_gigabytes: null,
        description: (b.description as string) ?? "",
        tags,
        status: "NEW",
        error_message: "",
      };
      world.state.images.push(image);
      world.save();
      world.later(0, () => runImport(world, image, b.url as string));
      return { status: 202, json: { image: world.imageJson(image) } };
    },
  },
  {
    method: "GET",
    path: /^\/v2\/images\/(\d+)$/,
    handle: ({ world, params }) => ({ status: 200, json: { image: world.imageJson(world.findImage(params[0])) } }),
  },
  {
    method: "PUT",
    path: /^\/v2\/images\/(\d+)$/,
    handle: ({ world, params, body }) => {
      const image = world.findImage(params[0]);
      const b = body();
      if (typeof b.name === "string") image.name = b.name;
      if (typeof b.distribution === "string") image.distribution = b.distribution;
      if (typeof b.description === "string") image.description = b.description;
      world.save();
      return { status: 200, json: { image: world.imageJson(image) } };
    },
  },
  {
    method: "DELETE",
    path: /^\/v2\/images\/(\d+)$/,
    handle: ({ world, params }) => {
      const image = world.findImage(params[0]);
      world.state.images = world.state.images.filter((i) => i !== image);
      world.save();
      return { status: 204 };
    },
  },
  {
    method: "GET",
    path: /^\/v2\/images\/(\d+)\/actions$/,
    handle: (ctx) => {
      const image = ctx.world.findImage(ctx.params[0]);
      return {
        status: 200,
        json: paginate(
          ctx,
          "actions",
          ctx.world.state.actions.filter((a) => a.resource_id === image.id),
        ),
      };
    },
  },
  {
    method: "POST",
    path: /^\/v2\/images\/(\d+)\/actions$/,
    handle: ({ world, params, body }) => {
      const image = world.findImage(params[0]);
      const b = body();
      if (b.type !== "transfer") throw unprocessable(`action type ${String(b.type)} is not supported here`);
      const region = b.region as string;
      if (!world.regions.includes(region)) throw unprocessable(`${region} is not a valid region`);
      if (image.status !== "available") throw unprocessable("Image is not available for transfer yet.");
      if (image.regions.includes(region)) throw unprocessable("This image has already been transferred to this region.");
      if (world.state.actions.some((a) => a.resource_id === image.id && a.region_slug === region && a.status === "in-progress"))
        throw unprocessable("This image is already being transferred to this region.");
      const action: ActionRec = {
        id: world.id(),
        status: "in-progress",
        type: "transfer",
        started_at: now(),
        completed_at: null,
        resource_id: image.id,
        resource_type: "image",
        region_slug: region,
      };
      world.state.actions.push(action);
      world.save();
      world.later(world.timings.transferMs, () => {
        if (!world.state.images.includes(image)) action.status = "errored";
        else {
          action.status = "completed";
          if (!image.regions.includes(region)) image.regions.push(region);
        }
        action.completed_at = now();
        world.save();
      });
      return { status: 201, json: { action: world.actionJson(action) } };
    },
  },
  {
    method: "GET",
    path: /^\/v2\/images\/(\d+)\/actions\/(\d+)$/,
    handle: ({ world, params }) => {
      world.findImage(params[0]);
      const action = world.state.actions.find((a) => a.id === Number(params[1]) && a.resource_id === Number(params[0]));
      if (!action) throw notFound();
      return { status: 200, json: { action: world.actionJson(action) } };
    },
  },
  {
    method: "GET",
    path: /^\/v2\/actions\/(\d+)$/,
    handle: ({ world, params }) => {
      const action = world.state.actions.find((a) => a.id === Number(params[0]));
      if (!action) throw notFound();
      return { status: 200, json: { action: world.actionJson(action) } };
    },
  },
];
