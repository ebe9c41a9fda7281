// /v2/droplets and a Droplet: created from an available image in its region, active after bootMs, or (boot: "qemu")
// when the image really boots, with the account's keys it names.
import { SIZES, type DropletRec } from "../types";
import { notFound, now, unprocessable, type World } from "../world";
import { paginate, type Route } from "./route";

export const dropletRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/v2\/droplets$/,
    handle: (ctx) => {
      const tag = ctx.query.get("tag_name");
      const list = ctx.world.state.droplets.filter((d) => !tag || d.tags.includes(tag));
      return {
        status: 200,
        json: paginate(
          ctx,
          "droplets",
          list.map((d) => ctx.world.dropletJson(d, ctx.base)),
        ),
      };
    },
  },
  {
    method: "POST",
    path: /^\/v2\/droplets$/,
    handle: ({ world, base, body }) => {
      const { state } = world;
      const b = body();
      if (typeof b.name !== "string" || !b.name) throw unprocessable("name is required");
      if (typeof b.size !== "string" || !SIZES.includes(b.size)) throw unprocessable("You specified an invalid size for Droplet creation.");
      const region = b.region as string;
      if (!world.regions.includes(region)) throw unprocessable("You specified an invalid region for Droplet creation.");
      const image = state.images.find((i) => i.id === Number(b.image));
      if (!image || image.status !== "available" || !image.regions.includes(region))
        throw unprocessable("You specified an invalid image for Droplet creation.");
      const keys = Array.isArray(b.ssh_keys) ? (b.ssh_keys as (string | number)[]) : [];
      if (keys.length === 0) throw unprocessable("You must specify at least one SSH key for a Droplet from a custom image.");
      const tags = Array.isArray(b.tags) ? (b.tags as string[]) : [];
      world.addTags(tags);
      const n = state.nextId;
      const d: DropletRec = {
        id: world.id(),
        name: b.name,
        status: "new",
        created_at: now(),
        image_id: image.id,
        region,
        size_slug: b.size,
        tags,
        vpc_uuid: (b.vpc_uuid as string) ?? `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`,
        ipv4: `203.0.113.${(n % 250) + 2}`,
        monitoring: b.monitoring === true,
        user_data: b.user_data as string | undefined,
        ssh_keys: keys,
      };
      state.droplets.push(d);
      world.save();
      if (world.options.boot === "qemu") {
        const publicKeys = keys
          .map((k) => (state.keys ?? []).find((x) => x.id === Number(k) || x.fingerprint === k)?.public_key)
          .filter((k): k is string => !!k);
        void bootDroplet(world, d, world.imageFiles.get(image.id), publicKeys);
      } else {
        world.later(world.timings.bootMs, () => {
          if (state.droplets.includes(d)) d.status = "active";
          world.save();
        });
      }
      return { status: 202, json: { droplet: world.dropletJson(d, base), links: { actions: [] } } };
    },
  },
  {
    method: "GET",
    path: /^\/v2\/droplets\/(\d+)$/,
    handle: ({ world, base, params }) => ({ status: 200, json: { droplet: world.dropletJson(findDroplet(world, params[0]), base) } }),
  },
  {
    method: "DELETE",
    path: /^\/v2\/droplets\/(\d+)$/,
    handle: async ({ world, params }) => {
      const d = findDroplet(world, params[0]);
      world.state.droplets = world.state.droplets.filter((x) => x !== d);
      await world.guests.get(d.id)?.stop();
      world.guests.delete(d.id);
      world.save();
      return { status: 204 };
    },
  },
];

function findDroplet(world: World, raw: string): DropletRec {
  const d = world.state.droplets.find((x) => x.id === Number(raw));
  if (!d) throw notFound();
  return d;
}

/** Boots the Droplet's image with `do-image boot`'s harness; it is active once the boot works, off when it does not. */
async function bootDroplet(world: World, d: DropletRec, file: string | undefined, publicKeys: string[]): Promise<void> {
  if (!file) {
    d.status = "off";
    d.boot = { verdict: "fails", message: "the image's file was not kept (imported before the emulator ran with --boot qemu)" };
    return world.save();
  }
  const { startGuest } = await import("do-image");
  try {
    const g = await world.track(startGuest(file, { extraKeys: publicKeys, hostname: d.name }));
    if (!world.state.droplets.includes(d)) return void (await g.stop?.());
    d.boot = { verdict: g.report.verdict, failedStage: g.report.failedStage, message: g.report.stages.find((x) => x.stage === g.report.failedStage)?.message };
    if (g.stop) {
      world.guests.set(d.id, { stop: g.stop });
      d.ssh = `${g.ssh.host}:${g.ssh.port}`;
      d.status = "active";
    } else d.status = "off";
  } catch (err) {
    d.status = "off";
    d.boot = { verdict: "fails", message: (err as Error).message };
  } finally {
    world.save();
  }
}
