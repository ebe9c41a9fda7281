// A local DigitalOcean API for the endpoints this project calls, behaving as the real service does (202/201/204/404/422/429).
// This file is the front door (authentication, the rate limit, injected faults, the exchange log); the state and the work
// that finishes later are in world.ts, the routes in routes/ (one module per API area), the importer in importer.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { mulberry32 } from "../random";
import { dispatch } from "./routes";
import type { Emulator, EmulatorOptions, Faults } from "./types";
import { HttpError, World } from "./world";

export { DEFAULT_REGIONS, type Emulator, type EmulatorOptions, type EmulatorState, type Exchange, type Faults, type Timings } from "./types";

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
  const limits = options.limits ?? { perMinute: 250, perHour: 5000 };
  const faults: Faults = { ...options.faults };
  let dice: { seed: number | undefined; next: () => number } = { seed: undefined, next: Math.random };
  const random = () => {
    if (faults.seed !== dice.seed) dice = { seed: faults.seed, next: faults.seed === undefined ? Math.random : mulberry32(faults.seed) };
    return dice.next();
  };
  const world = await World.open(options);
  /** When each request counted against the limits came, over the last hour. */
  const sent: number[] = [];

  const server: Server = createServer(async (req: IncomingMessage, res: ServerResponse) => {
    const base = `http://${req.headers.host}`;
    const path = new URL(req.url ?? "/", base).pathname;
    const key = `${req.method} ${pattern(path)}`;
    const requestId = `emu-${Math.random().toString(16).slice(2, 10)}`;
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const t = Date.now();
    while (sent.length > 0 && sent[0] <= t - 3_600_000) sent.shift();
    const minute = sent.filter((s) => s > t - 60_000).length;
    const reset = Math.ceil((minute >= limits.perMinute ? (sent.find((s) => s > t - 60_000) ?? t) + 60_000 : t + 60_000) / 1000);
    const send = (status: number, json?: unknown, wait?: Faults["burst429Wait"]) => {
      world.state.log?.push(`${req.method} ${path} ${status}`);
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
      const r = await dispatch(world, req.method ?? "GET", new URL(req.url ?? "/", base), base, raw);
      send(r.status, r.json);
    } catch (err) {
      if (err instanceof HttpError) return fail(err.status, err.id, err.message);
      fail(500, "server_error", `Server was unable to give you a response. (${(err as Error).message})`);
    }
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    token,
    get state() {
      return world.state;
    },
    faults,
    idle: () => world.idle(),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await world.close();
    },
  };
}
