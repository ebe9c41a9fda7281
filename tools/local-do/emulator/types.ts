// The emulator's options, faults, stored records and handle: what tests and the runner configure and read.
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

export interface ImageRec {
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

export interface ActionRec {
  id: number;
  status: "in-progress" | "completed" | "errored";
  type: string;
  started_at: string;
  completed_at: string | null;
  resource_id: number;
  resource_type: "image" | "droplet";
  region_slug: string | null;
}

export interface DropletRec {
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

export interface KeyRec {
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
export const SIZES = ["s-1vcpu-512mb-10gb", "s-1vcpu-1gb", "s-1vcpu-2gb", "s-2vcpu-2gb", "s-2vcpu-4gb", "s-4vcpu-8gb"];

export interface Emulator {
  url: string;
  token: string;
  state: EmulatorState;
  faults: Faults;
  /** Resolves when every import, transfer and boot started so far has settled. */
  idle(): Promise<void>;
  close(): Promise<void>;
}
