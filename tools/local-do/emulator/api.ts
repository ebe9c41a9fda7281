// A local DigitalOcean API for the endpoints this project calls, behaving as the real service does (202/201/204/404/422/429).
import { mulberry32 } from "../random";
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

export interface Timings {
  /** How long an import takes after the download and validation finished. */
  importMs: number;
  transferMs: number;
  bootMs: number;
}

export interface Faults {
  /** Probability (0..1) that a request gets a 500, per "METHOD /path-pattern" ("GET /v2/images/:id") or "*". */
  errorRate?: Record<string, number>;
  /** Added to every response. */
  latencyMs?: number;
  /** Probability that the connection is dropped without a response, per endpoint pattern or "*". */
  dropRate?: Record<string, number>;
  /** The next N requests get 429 with retry-after. */
  burst429?: number;
  /** What those 429s say: retry-after in seconds (default 1), or only ratelimit-reset this many seconds ahead. */
  burst429Wait?: { retryAfter: number } | { resetIn: number };
  /** Requests to an endpoint ("POST /v2/images") answered with this error instead, as DigitalOcean refusing them. */
  refuse?: Record<string, { status: number; id: string; message: string }>;
  /** The next N requests get 503 service_unavailable with retry-after (seconds, default 1), as under maintenance. */
  burst503?: number;
  burst503RetryAfter?: number;
  /** Error bodies repeat the request's Authorization header, as a misbehaving proxy might; do-image must never pass it on. */
  echoAuth?: boolean;
  /** Seeds the fault dice, so a test sees the same faults on every run (default: Math.random). */
  seed?: number;
}

export interface EmulatorOptions {
  port?: number;
  token?: string;
  timings?: Partial<Timings>;
  faults?: Faults;
  /** Requests allowed per window before 429s (DigitalOcean: 250 a minute, 5,000 an hour). */
  limits?: { perMinute: number; perHour: number };
  /** Persist the state to this JSON file and load it at start. */
  stateFile?: string;
  regions?: string[];
  /** Judge imported images as DigitalOcean's importer does: format, compression, virtual size (default true). */
  validate?: boolean;
  /** Sees every request and response, for contract tests. */
  onExchange?: (x: Exchange) => void;
  /**
   * "qemu": each Droplet really boots from its imported image (`do-image boot`'s harness) with the account's keys it
   * names; it becomes active only when the boot works, and its public address is 127.0.0.1 with the forwarded SSH
   * port in `do_image_emulator.ssh`. Otherwise Droplets become active after `timings.bootMs`.
   */
  boot?: "qemu";
}

export interface Exchange {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  requestBody: unknown;
  status: number;
  responseBody: unknown;
}

interface ImageRec {
  id: number;
  name: string;
  type: "custom";
  distribution: string;
  slug: null;
  public: false;
  regions: string[];
  created_at: string;
  min_disk_size: number | null;
  size_gigabytes: number | null;
  description: string;
  tags: string[];
  status: "NEW" | "available" | "pending" | "deleted";
  error_message: string;
}

interface ActionRec {
  id: number;
  status: "in-progress" | "completed" | "errored";
  type: string;
  started_at: string;
  completed_at: string | null;
  resource_id: number;
  resource_type: "image" | "droplet";
  region_slug: string | null;
}

interface DropletRec {
  id: number;
  name: string;
  status: "new" | "active" | "off";
  /** With `boot: "qemu"`: where the booted guest's sshd answers on this machine, and what the boot showed. */
  ssh?: string;
  boot?: { verdict: string; failedStage?: string; message?: string };
  created_at: string;
  image_id: number;
  region: string;
  size_slug: string;
  tags: string[];
  vpc_uuid: string;
  ipv4: string;
  monitoring: boolean;
  user_data?: string;
  ssh_keys: (string | number)[];
}

interface KeyRec {
  id: number;
  name: string;
  fingerprint: string;
  public_key: string;
}

export interface EmulatorState {
  nextId: number;
  /** SSH keys on the account (/v2/account/keys). */
  keys?: KeyRec[];
  images: ImageRec[];
  actions: ActionRec[];
  droplets: DropletRec[];
  tags: string[];
  /** Every request the emulator answered, for assertions: "METHOD /path status". */
  log?: string[];
}

export const DEFAULT_REGIONS = ["nyc1", "nyc3", "sfo2", "sfo3", "ams3", "sgp1", "lon1", "fra1", "tor1", "blr1", "syd1", "atl1"];
const SIZES = ["s-1vcpu-512mb-10gb", "s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"];

export interface Emulator {
  url: string;
  token: string;
  state: EmulatorState;
  faults: Faults;
  /** Resolves when every import, transfer and boot started so far has settled. */
  idle(): Promise<void>;
  close(): Promise<void>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
  ) {
    super(message);
  }
}

const now = () => new Date().toISOString();

/** Matches a request path to its route pattern, e.g. /v2/images/42 → "/v2/images/:id". */
function pattern(path: string): string {
  return path.replace(/\/\d+(?=\/|$)/g, "/:id").replace(/^\/v2\/tags\/[^/]+/, "/v2/tags/:tag");
}

function chance(map: Record<string, number> | undefined, key: string, random: () => number): boolean {
  if (!map) return false;
  const p = map[key] ?? map["*"] ?? 0;
  return p > 0 && random() < p;
}

export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  const token = options.token ?? "do-local-emulator-token";
  const timings: Timings = { importMs: 200, transferMs: 300, bootMs: 200, ...options.timings };
  const limits = options.limits ?? { perMinute: 250, perHour: 5000 };
  const regions = options.regions ?? DEFAULT_REGIONS;
  const faults: Faults = { ...options.faults };
  let dice: { seed: number | undefined; next: () => number } = { seed: undefined, next: Math.random };
  const random = () => {
    if (faults.seed !== dice.seed) dice = { seed: faults.seed, next: faults.seed === undefined ? Math.random : mulberry32(faults.seed) };
    return dice.next();
  };
  let state: EmulatorState = { nextId: 100000001, images: [], actions: [], droplets: [], tags: [], log: [] };
  if (options.stateFile) {
    try {
      state = { log: [], ...JSON.parse(await readFile(options.stateFile, "utf8")) };
    } catch {
      // no saved state yet
    }
  }
  const scratch = await mkdtemp(join(tmpdir(), "do-emulator-"));
  const pending = new Set<Promise<unknown>>();
  const sent: number[] = [];
  let saving = Promise.resolve();
  const save = () => {
    if (!options.stateFile) return;
    const file = options.stateFile;
    const { log: _log, ...persisted } = state;
    void _log;
    saving = saving.then(() => writeFile(file, JSON.stringify(persisted, null, 2)));
  };
  const later = (ms: number, fn: () => Promise<void> | void) => {
    const p = new Promise<void>((resolve) => setTimeout(resolve, ms)).then(fn).catch(() => undefined);
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const id = () => state.nextId++;
  /** Imported image files kept for booting (boot: "qemu"), and the running guests by Droplet id. */
  const imageFiles = new Map<number, string>();
  const guests = new Map<number, { stop(): Promise<void> }>();
  const bootDroplet = async (d: DropletRec, file: string | undefined, publicKeys: string[]) => {
    if (!file) {
      d.status = "off";
      d.boot = { verdict: "fails", message: "the image's file was not kept (imported before the emulator ran with --boot qemu)" };
      return save();
    }
    const { startGuest } = await import("do-image");
    const started = startGuest(file, { extraKeys: publicKeys, hostname: d.name });
    pending.add(started);
    try {
      const g = await started;
      if (!state.droplets.includes(d)) return void (await g.stop?.());
      d.boot = {
        verdict: g.report.verdict,
        failedStage: g.report.failedStage,
        message: g.report.stages.find((x) => x.stage === g.report.failedStage)?.message,
      };
      if (g.stop) {
        guests.set(d.id, { stop: g.stop });
        d.ssh = `${g.ssh.host}:${g.ssh.port}`;
        d.status = "active";
      } else d.status = "off";
    } catch (err) {
      d.status = "off";
      d.boot = { verdict: "fails", message: (err as Error).message };
    } finally {
      pending.delete(started);
      save();
    }
  };

  const imageJson = (i: ImageRec) => ({ ...i, regions: [...i.regions], tags: [...i.tags] });
  const dropletJson = (d: DropletRec, base: string) => {
    const image = state.images.find((i) => i.id === d.image_id);
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
      image: image ? imageJson(image) : {},
      volume_ids: [],
      size: {
        slug: d.size_slug,
        memory: 1024,
        vcpus: 1,
        disk: 25,
        transfer: 1,
        price_monthly: 6,
        price_hourly: 0.00893,
        regions: regions,
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
      region: regionJson(d.region),
      tags: [...d.tags],
      vpc_uuid: d.vpc_uuid,
      links: { self: `${base}/v2/droplets/${d.id}` },
    };
  };
  const regionJson = (slug: string) => ({
    name: slug.toUpperCase(),
    slug,
    features: ["backups", "ipv6", "metadata", "install_agent", "image_transfer"],
    available: true,
    sizes: SIZES,
  });

  /** Downloads the image URL as DigitalOcean does (a GET: presigned URLs refuse HEAD), then judges it. */
  const runImport = async (image: ImageRec, url: string) => {
    const fail = (message: string) => {
      image.status = "deleted";
      image.error_message = message;
      save();
    };
    const file = join(scratch, `${image.id}-${url.split("?")[0].split("/").pop() || "image"}`);
    try {
      const res = await fetch(url);
      if (!res.ok || !res.body)
        return fail(`Unable to download the image: the URL answered HTTP ${res.status}. Check that the URL is reachable and public or presigned.`);
      await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), createWriteStream(file));
    } catch (err) {
      return fail(`Unable to download the image: ${(err as Error).message}.`);
    }
    try {
      // What DigitalOcean's importer judges, read with qemu-img rather than our own readers: the container format,
      // its compression, and the virtual size. Whether the guest boots is left to the boot (`--boot qemu`).
      const judged = options.validate === false ? { ok: true as const, virtualSize: 0, actualSize: 0 } : await judgeLikeImporter(file);
      if (!judged.ok) return fail(judged.message);
      await new Promise((r) => setTimeout(r, timings.importMs));
      if (!state.images.includes(image)) return; // deleted meanwhile
      image.status = "available";
      image.error_message = "";
      image.size_gigabytes = judged.actualSize ? Math.round((judged.actualSize / 1024 ** 3) * 100) / 100 : 0.5;
      image.min_disk_size = judged.virtualSize ? Math.max(1, Math.ceil(judged.virtualSize / 1024 ** 3)) : 1;
      if (options.boot === "qemu") imageFiles.set(image.id, file);
      save();
    } finally {
      if (imageFiles.get(image.id) !== file) await rm(file, { force: true });
    }
  };

  const rawBodies = new WeakMap<IncomingMessage, string>();
  const body = async (req: IncomingMessage): Promise<Record<string, unknown>> => {
    const raw = rawBodies.get(req) ?? "";
    if (!raw) return {};
    try {
      return JSON.parse(raw);
    } catch {
      throw new HttpError(400, "bad_request", "The request body is not valid JSON.");
    }
  };

  const paginate = (base: string, path: string, query: URLSearchParams, key: string, items: unknown[]) => {
    const perPage = Math.min(200, Math.max(1, Number(query.get("per_page") ?? 20)));
    const page = Math.max(1, Number(query.get("page") ?? 1));
    const last = Math.max(1, Math.ceil(items.length / perPage));
    const link = (p: number) => {
      const q = new URLSearchParams(query);
      q.set("page", String(p));
      q.set("per_page", String(perPage));
      return `${base}${path}?${q}`;
    };
    const pages: Record<string, string> = {};
    if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
    if (page > 1) Object.assign(pages, { first: link(1), prev: link(page - 1) });
    return { [key]: items.slice((page - 1) * perPage, page * perPage), links: { pages }, meta: { total: items.length } };
  };

  const findImage = (raw: string) => {
    const image = state.images.find((i) => i.id === Number(raw) && i.status !== "deleted") ?? state.images.find((i) => i.id === Number(raw));
    if (!image || (image.status === "deleted" && !image.error_message))
      throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
    return image;
  };

  async function route(req: IncomingMessage, base: string): Promise<{ status: number; json?: unknown }> {
    const url = new URL(req.url ?? "/", base);
    const path = url.pathname.replace(/\/+$/, "");
    const q = url.searchParams;
    const m = req.method ?? "GET";
    let match: RegExpMatchArray | null;

    if (m === "GET" && path === "/v2/regions") return { status: 200, json: paginate(base, path, q, "regions", regions.map(regionJson)) };

    if (path === "/v2/images") {
      if (m === "GET") {
        let list = state.images.filter((i) => i.status !== "deleted" || i.error_message);
        const tag = q.get("tag_name");
        if (tag) list = list.filter((i) => i.tags.includes(tag));
        return { status: 200, json: paginate(base, path, q, "images", list.map(imageJson)) };
      }
      if (m === "POST") {
        const b = await body(req);
        for (const f of ["name", "url", "region"]) if (typeof b[f] !== "string" || !b[f]) throw new HttpError(422, "unprocessable_entity", `${f} is required`);
        if (!regions.includes(b.region as string)) throw new HttpError(422, "unprocessable_entity", `${b.region} is not a valid region`);
        const tags = Array.isArray(b.tags) ? (b.tags as string[]) : [];
        for (const t of tags) if (!state.tags.includes(t)) state.tags.push(t);
        const image: ImageRec = {
          id: id(),
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
        state.images.push(image);
        save();
        later(0, () => runImport(image, b.url as string));
        return { status: 202, json: { image: imageJson(image) } };
      }
    }

    if ((match = path.match(/^\/v2\/images\/(\d+)$/))) {
      const image = findImage(match[1]);
      if (m === "GET") return { status: 200, json: { image: imageJson(image) } };
      if (m === "PUT") {
        const b = await body(req);
        if (typeof b.name === "string") image.name = b.name;
        if (typeof b.distribution === "string") image.distribution = b.distribution;
        if (typeof b.description === "string") image.description = b.description;
        save();
        return { status: 200, json: { image: imageJson(image) } };
      }
      if (m === "DELETE") {
        state.images = state.images.filter((i) => i !== image);
        save();
        return { status: 204 };
      }
    }

    if ((match = path.match(/^\/v2\/images\/(\d+)\/actions$/))) {
      const image = findImage(match[1]);
      if (m === "GET")
        return {
          status: 200,
          json: paginate(
            base,
            path,
            q,
            "actions",
            state.actions.filter((a) => a.resource_id === image.id),
          ),
        };
      if (m === "POST") {
        const b = await body(req);
        if (b.type !== "transfer") throw new HttpError(422, "unprocessable_entity", `action type ${String(b.type)} is not supported here`);
        const region = b.region as string;
        if (!regions.includes(region)) throw new HttpError(422, "unprocessable_entity", `${region} is not a valid region`);
        if (image.status !== "available") throw new HttpError(422, "unprocessable_entity", "Image is not available for transfer yet.");
        if (image.regions.includes(region)) throw new HttpError(422, "unprocessable_entity", "This image has already been transferred to this region.");
        if (state.actions.some((a) => a.resource_id === image.id && a.region_slug === region && a.status === "in-progress")) {
          throw new HttpError(422, "unprocessable_entity", "This image is already being transferred to this region.");
        }
        const action: ActionRec = {
          id: id(),
          status: "in-progress",
          type: "transfer",
          started_at: now(),
          completed_at: null,
          resource_id: image.id,
          resource_type: "image",
          region_slug: region,
        };
        state.actions.push(action);
        save();
        later(timings.transferMs, () => {
          if (!state.images.includes(image)) {
            action.status = "errored";
          } else {
            action.status = "completed";
            if (!image.regions.includes(region)) image.regions.push(region);
          }
          action.completed_at = now();
          save();
        });
        return { status: 201, json: { action: actionJson(action) } };
      }
    }

    if ((match = path.match(/^\/v2\/images\/(\d+)\/actions\/(\d+)$/)) && m === "GET") {
      findImage(match[1]);
      const action = state.actions.find((a) => a.id === Number(match![2]) && a.resource_id === Number(match![1]));
      if (!action) throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
      return { status: 200, json: { action: actionJson(action) } };
    }

    if ((match = path.match(/^\/v2\/actions\/(\d+)$/)) && m === "GET") {
      const action = state.actions.find((a) => a.id === Number(match![1]));
      if (!action) throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
      return { status: 200, json: { action: actionJson(action) } };
    }

    if (path === "/v2/account/keys") {
      state.keys ??= [];
      if (m === "GET") return { status: 200, json: paginate(base, path, q, "ssh_keys", state.keys) };
      if (m === "POST") {
        const b = await body(req);
        const publicKey = String(b.public_key ?? "").trim();
        const blob = publicKey.split(/\s+/)[1];
        if (!/^(ssh-|ecdsa-)/.test(publicKey) || !blob)
          throw new HttpError(422, "unprocessable_entity", "Key invalid type, we support 'ssh-rsa', 'ssh-ed25519' and 'ecdsa-sha2-*' keys");
        const md5 = createHash("md5").update(Buffer.from(blob, "base64")).digest("hex");
        const key: KeyRec = { id: id(), name: String(b.name ?? "key"), fingerprint: md5.match(/../g)!.join(":"), public_key: publicKey };
        state.keys.push(key);
        save();
        return { status: 201, json: { ssh_key: key } };
      }
    }

    if (path === "/v2/droplets") {
      if (m === "GET") {
        const tag = q.get("tag_name");
        const list = state.droplets.filter((d) => !tag || d.tags.includes(tag));
        return {
          status: 200,
          json: paginate(
            base,
            path,
            q,
            "droplets",
            list.map((d) => dropletJson(d, base)),
          ),
        };
      }
      if (m === "POST") {
        const b = await body(req);
        if (typeof b.name !== "string" || !b.name) throw new HttpError(422, "unprocessable_entity", "name is required");
        if (typeof b.size !== "string" || !SIZES.includes(b.size))
          throw new HttpError(422, "unprocessable_entity", "You specified an invalid size for Droplet creation.");
        const region = b.region as string;
        if (!regions.includes(region)) throw new HttpError(422, "unprocessable_entity", "You specified an invalid region for Droplet creation.");
        const image = state.images.find((i) => i.id === Number(b.image));
        if (!image || image.status !== "available" || !image.regions.includes(region)) {
          throw new HttpError(422, "unprocessable_entity", "You specified an invalid image for Droplet creation.");
        }
        const keys = Array.isArray(b.ssh_keys) ? (b.ssh_keys as (string | number)[]) : [];
        if (keys.length === 0) throw new HttpError(422, "unprocessable_entity", "You must specify at least one SSH key for a Droplet from a custom image.");
        const tags = Array.isArray(b.tags) ? (b.tags as string[]) : [];
        for (const t of tags) if (!state.tags.includes(t)) state.tags.push(t);
        const n = state.nextId;
        const d: DropletRec = {
          id: id(),
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
        save();
        if (options.boot === "qemu") {
          const publicKeys = keys
            .map((k) => (state.keys ?? []).find((x) => x.id === Number(k) || x.fingerprint === k)?.public_key)
            .filter((k): k is string => !!k);
          void bootDroplet(d, imageFiles.get(image.id), publicKeys);
        } else {
          later(timings.bootMs, () => {
            if (state.droplets.includes(d)) d.status = "active";
            save();
          });
        }
        return { status: 202, json: { droplet: dropletJson(d, base), links: { actions: [] } } };
      }
    }

    if ((match = path.match(/^\/v2\/droplets\/(\d+)$/))) {
      const d = state.droplets.find((x) => x.id === Number(match![1]));
      if (!d) throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
      if (m === "GET") return { status: 200, json: { droplet: dropletJson(d, base) } };
      if (m === "DELETE") {
        state.droplets = state.droplets.filter((x) => x !== d);
        await guests.get(d.id)?.stop();
        guests.delete(d.id);
        save();
        return { status: 204 };
      }
    }

    if (path === "/v2/tags" && m === "POST") {
      const b = await body(req);
      const name = b.name as string;
      if (!name || !/^[a-zA-Z0-9_\-:]{1,255}$/.test(name))
        throw new HttpError(422, "unprocessable_entity", "name must be 1-255 letters, numbers, colons, dashes and underscores");
      if (!state.tags.includes(name)) state.tags.push(name);
      save();
      return { status: 201, json: { tag: { name, resources: { count: 0 } } } };
    }

    if ((match = path.match(/^\/v2\/tags\/([^/]+)\/resources$/)) && (m === "POST" || m === "DELETE")) {
      const tag = decodeURIComponent(match[1]);
      if (!state.tags.includes(tag)) throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
      const b = await body(req);
      for (const r of (b.resources as { resource_id: string; resource_type: string }[]) ?? []) {
        const target =
          r.resource_type === "image"
            ? state.images.find((i) => String(i.id) === r.resource_id)
            : r.resource_type === "droplet"
              ? state.droplets.find((d) => String(d.id) === r.resource_id)
              : undefined;
        if (!target) throw new HttpError(404, "not_found", `${r.resource_type} ${r.resource_id} was not found`);
        if (m === "POST" && !target.tags.includes(tag)) target.tags.push(tag);
        if (m === "DELETE") target.tags = target.tags.filter((t) => t !== tag);
      }
      save();
      return { status: 204 };
    }

    throw new HttpError(404, "not_found", "The resource you were accessing could not be found.");
  }

  const actionJson = (a: ActionRec) => ({ ...a, region: a.region_slug ? regionJson(a.region_slug) : null });

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const base = `http://${req.headers.host}`;
    const path = new URL(req.url ?? "/", base).pathname;
    const key = `${req.method} ${pattern(path)}`;
    const requestId = `emu-${Math.random().toString(16).slice(2, 10)}`;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    rawBodies.set(req, raw);
    const t = Date.now();
    while (sent.length > 0 && sent[0] <= t - 3_600_000) sent.shift();
    const minute = sent.filter((s) => s > t - 60_000).length;
    const reset = Math.ceil((minute >= limits.perMinute ? (sent.find((s) => s > t - 60_000) ?? t) + 60_000 : t + 60_000) / 1000);
    const send = (status: number, json?: unknown, wait?: Faults["burst429Wait"]) => {
      state.log?.push(`${req.method} ${path} ${status}`);
      res.writeHead(status, {
        "content-type": "application/json; charset=utf-8",
        "ratelimit-limit": String(limits.perHour),
        "ratelimit-remaining": String(Math.max(0, limits.perHour - sent.length)),
        "ratelimit-reset": String(wait && "resetIn" in wait ? Math.ceil(Date.now() / 1000) + wait.resetIn : reset),
        "x-request-id": requestId,
        ...((status === 429 || status === 503) && !(wait && "resetIn" in wait)
          ? { "retry-after": String(wait && "retryAfter" in wait ? wait.retryAfter : 1) }
          : {}),
      });
      res.end(json === undefined ? undefined : JSON.stringify(json));
      if (options.onExchange) {
        const u = new URL(req.url ?? "/", base);
        let requestBody: unknown = undefined;
        try {
          requestBody = raw ? JSON.parse(raw) : undefined;
        } catch {
          requestBody = raw;
        }
        options.onExchange({
          method: req.method ?? "GET",
          path,
          query: Object.fromEntries(u.searchParams),
          headers: Object.fromEntries(Object.entries(req.headers).map(([k, v]) => [k, String(v)])),
          requestBody,
          status,
          responseBody: json === undefined ? undefined : JSON.parse(JSON.stringify(json)),
        });
      }
    };
    const fail = (status: number, id: string, message: string, wait?: Faults["burst429Wait"]) =>
      send(
        status,
        { id, message: faults.echoAuth ? `${message} (you sent Authorization: ${req.headers.authorization})` : message, request_id: requestId },
        wait,
      );
    if (faults.latencyMs) await new Promise((r) => setTimeout(r, faults.latencyMs));
    if (req.headers.authorization !== `Bearer ${token}`) return fail(401, "unauthorized", "Unable to authenticate you.");
    if (faults.burst429 && faults.burst429 > 0) {
      faults.burst429--;
      return fail(429, "too_many_requests", "API Rate limit exceeded.", faults.burst429Wait);
    }
    if (faults.burst503 && faults.burst503 > 0) {
      faults.burst503--;
      return fail(503, "service_unavailable", "The service is temporarily unavailable.", { retryAfter: faults.burst503RetryAfter ?? 1 });
    }
    if (minute >= limits.perMinute || sent.length >= limits.perHour) return fail(429, "too_many_requests", "API Rate limit exceeded.");
    sent.push(t);
    if (chance(faults.dropRate, key, random)) {
      req.socket.destroy();
      return;
    }
    const refusal = faults.refuse?.[key];
    if (refusal) return fail(refusal.status, refusal.id, refusal.message);
    if (chance(faults.errorRate, key, random)) return fail(500, "server_error", "Server was unable to give you a response.");
    try {
      const r = await route(req, base);
      send(r.status, r.json);
    } catch (err) {
      if (err instanceof HttpError) return fail(err.status, err.id, err.message);
      fail(500, "server_error", `Server was unable to give you a response. (${(err as Error).message})`);
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  // An import left NEW by a previous run (state file) cannot resume: it fails the way a lost download would.
  for (const image of state.images.filter((i) => i.status === "NEW")) {
    image.status = "deleted";
    image.error_message = "The import was interrupted by an emulator restart.";
  }
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    get state() {
      return state;
    },
    faults,
    async idle() {
      while (pending.size > 0) await Promise.all([...pending]);
      await saving;
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.all([...pending]);
      await Promise.all([...guests.values()].map((g) => g.stop()));
      await saving;
      await rm(scratch, { recursive: true, force: true });
    },
  };
}

const IMPORT_FORMATS = ["raw", "qcow2", "vmdk", "vdi", "vhdx"];

/**
 * The importer's own verdict on a downloaded file, independent of do-image's readers: gzip/bzip2 undone with the
 * system's gzip/bzip2, then `qemu-img info` for the format, backing file and virtual size (at most 100 GiB).
 */
async function judgeLikeImporter(file: string): Promise<{ ok: true; virtualSize: number; actualSize: number } | { ok: false; message: string }> {
  const { execFile } = await import("node:child_process");
  const { open } = await import("node:fs/promises");
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve, reject) =>
      execFile(cmd, args, { maxBuffer: 16 * 1024 * 1024 }, (err, out) => (err ? reject(Object.assign(err, { stdout: out })) : resolve(out))),
    );
  const head = Buffer.alloc(512);
  const fh = await open(file, "r");
  await fh.read(head, 0, 512, 0);
  await fh.close();
  let target = file;
  if (head[0] === 0x1f && head[1] === 0x8b) target = `${file}.raw`;
  else if (head.toString("latin1", 0, 3) === "BZh") target = `${file}.raw`;
  try {
    if (target !== file) {
      const tool = head[0] === 0x1f ? "gzip" : "bzip2";
      await run("sh", ["-c", `${tool} -dc "$1" > "$2"`, "sh", file, target]).catch(() => {
        throw new Error(`the ${tool} data is corrupt`);
      });
    }
    const info = JSON.parse(await run("qemu-img", ["info", "--output=json", target])) as {
      format: string;
      "virtual-size": number;
      "actual-size": number;
      "backing-filename"?: string;
    };
    if (!IMPORT_FORMATS.includes(info.format))
      return { ok: false, message: `The image format ${info.format} is not supported; use raw, qcow2, VHDX, VDI or VMDK.` };
    if (info["backing-filename"]) return { ok: false, message: "The image has a backing file; flatten it first." };
    if (info["virtual-size"] > 100 * 1024 ** 3) return { ok: false, message: "The image's virtual size is over the 100 GiB limit." };
    // A qcow2 whose tables disagree (refcounts, overlapping or out-of-file clusters) does not convert: checked as
    // qemu-img checks it, so that do-image's own qcow2 output is held to it in every push test.
    if (info.format === "qcow2") {
      // Exit 2 is corruption; 3 is leaked clusters only, which converts fine.
      const check = await run("qemu-img", ["check", "--output=json", target]).then(
        () => null,
        (err: { code?: number; stdout?: string }) => (err.code === 3 ? null : (err.stdout ?? String(err))),
      );
      if (check !== null) return { ok: false, message: `The qcow2 image is corrupt (qemu-img check: ${check.replace(/\s+/g, " ").slice(0, 300)}).` };
    }
    if (info.format === "raw") {
      const mbr = Buffer.alloc(512);
      const rh = await open(target, "r");
      await rh.read(mbr, 0, 512, 0);
      await rh.close();
      if (mbr.readUInt16LE(510) !== 0xaa55) return { ok: false, message: "The raw image has no MBR or GPT partition table." };
    }
    return { ok: true, virtualSize: info["virtual-size"], actualSize: info["actual-size"] };
  } catch (err) {
    return { ok: false, message: `The image could not be read: ${(err as Error).message}.` };
  } finally {
    if (target !== file) await rm(target, { force: true });
  }
}
