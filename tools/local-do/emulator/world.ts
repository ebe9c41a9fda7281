// The emulator's world: its state (saved to a file if asked), the work that finishes later (imports, transfers,
// boots), and the JSON DigitalOcean answers with for each record. The routes read and change it; nothing here speaks HTTP.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_REGIONS, SIZES, type ActionRec, type DropletRec, type EmulatorOptions, type EmulatorState, type ImageRec, type Timings } from "./types";

/** An API error as DigitalOcean sends it: a status, an id and a message. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

export const notFound = () => new HttpError(404, "not_found", "The resource you were accessing could not be found.");
export const unprocessable = (message: string) => new HttpError(422, "unprocessable_entity", message);
export const now = () => new Date().toISOString();

export class World {
  state: EmulatorState = { nextId: 100000001, images: [], actions: [], droplets: [], tags: [], log: [] };
  readonly timings: Timings;
  readonly regions: string[];
  /** Imported image files kept for booting (boot: "qemu"), and the running guests by Droplet id. */
  readonly imageFiles = new Map<number, string>();
  readonly guests = new Map<number, { stop(): Promise<void> }>();
  /** Work started and not settled yet: downloads, imports, transfers, boots. */
  readonly pending = new Set<Promise<unknown>>();
  private saving = Promise.resolve();

  private constructor(
    readonly options: EmulatorOptions,
    /** Where downloads land. */
    readonly scratch: string,
  ) {
    this.timings = { importMs: 200, transferMs: 300, bootMs: 200, ...options.timings };
    this.regions = options.regions ?? DEFAULT_REGIONS;
  }

  /** A world with the state saved in `options.stateFile`, if any; an import it left NEW fails as a lost download would. */
  static async open(options: EmulatorOptions): Promise<World> {
    const world = new World(options, await mkdtemp(join(tmpdir(), "do-emulator-")));
    if (options.stateFile) {
      try {
        world.state = { log: [], ...JSON.parse(await readFile(options.stateFile, "utf8")) };
      } catch {
        // no saved state yet
      }
    }
    for (const image of world.state.images.filter((i) => i.status === "NEW")) {
      image.status = "deleted";
      image.error_message = "The import was interrupted by an emulator restart.";
    }
    return world;
  }

  id(): number {
    return this.state.nextId++;
  }

  /** Writes the state (without the request log) to the state file, after any write still under way. */
  save(): void {
    const file = this.options.stateFile;
    if (!file) return;
    const { log: _log, ...persisted } = this.state;
    void _log;
    this.saving = this.saving.then(() => writeFile(file, JSON.stringify(persisted, null, 2)));
  }

  /** Runs `fn` after `ms`, counted as pending until it settles. */
  later(ms: number, fn: () => Promise<void> | void): void {
    this.track(new Promise<void>((resolve) => setTimeout(resolve, ms)).then(fn).catch(() => undefined));
  }

  /** Counts `work` as pending until it settles. */
  track<T>(work: Promise<T>): Promise<T> {
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work)).catch(() => undefined);
    return work;
  }

  /** An image by id: a live one first, else one whose import failed (it still answers, with its error_message). */
  findImage(raw: string): ImageRec {
    const image = this.state.images.find((i) => i.id === Number(raw) && i.status !== "deleted") ?? this.state.images.find((i) => i.id === Number(raw));
    if (!image || (image.status === "deleted" && !image.error_message)) throw notFound();
    return image;
  }

  addTags(tags: string[]): void {
    for (const t of tags) if (!this.state.tags.includes(t)) this.state.tags.push(t);
  }

  /** Resolves when every import, transfer and boot started so far has settled, and the state is written. */
  async idle(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending]);
    await this.saving;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pending]);
    await Promise.all([...this.guests.values()].map((g) => g.stop()));
    await this.saving;
    await rm(this.scratch, { recursive: true, force: true });
  }

  imageJson(i: ImageRec) {
    return { ...i, regions: [...i.regions], tags: [...i.tags] };
  }

  regionJson(slug: string) {
    return { name: slug.toUpperCase(), slug, features: ["backups", "ipv6", "metadata", "install_agent", "image_transfer"], available: true, sizes: SIZES };
  }

  actionJson(a: ActionRec) {
    return { ...a, region: a.region_slug ? this.regionJson(a.region_slug) : null };
  }

  dropletJson(d: DropletRec, base: string) {
    const image = this.state.images.find((i) => i.id === d.image_id);
    return {
      id: d.id,
      name: d.name,
      memory: 1024,
      vcpus: 1,
      disk: 25,
      locked: false,
      status: d.status,
      kernel: null,
      created_at: d.created_at,
      features: d.monitoring ? ["monitoring"] : [],
      backup_ids: [],
      next_backup_window: null,
      snapshot_ids: [],
      image: image ? this.imageJson(image) : {},
      volume_ids: [],
      size: {
        slug: d.size_slug,
        memory: 1024,
        vcpus: 1,
        disk: 25,
        transfer: 1,
        price_monthly: 6,
        price_hourly: 0.00893,
        regions: this.regions,
        available: true,
        description: "Basic",
      },
      size_slug: d.size_slug,
      networks: {
        v4:
          d.status === "active"
            ? [{ ip_address: d.ssh ? "127.0.0.1" : d.ipv4, netmask: "255.255.255.0", gateway: d.ssh ? "127.0.0.1" : "203.0.113.1", type: "public" }]
            : [],
        v6: [],
      },
      ...(d.ssh || d.boot ? { do_image_emulator: { ssh: d.ssh, boot: d.boot } } : {}),
      region: this.regionJson(d.region),
      tags: [...d.tags],
      vpc_uuid: d.vpc_uuid,
      links: { self: `${base}/v2/droplets/${d.id}` },
    };
  }
}
