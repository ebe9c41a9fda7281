// The client against the emulator with faults on: every call completes or fails with the right typed error.
import { scaledClock } from "../../tools/local-do/clock";
import { DigitalOceanClient, DigitalOceanError, RateLimiter, sharedLimiter, type Clock } from "../../provider/digitalocean";
import { errorJson } from "../../provider/errors";
import { startEmulator, type Emulator } from "../../tools/local-do/emulator";

let emulator: Emulator;
const logLines: string[] = [];
const client = (over: { token?: string; endpoint?: string } = {}) =>
  new DigitalOceanClient({
    endpoint: over.endpoint ?? emulator.url,
    token: over.token ?? emulator.token,
    clock: scaledClock(0.001),
    log: (l) => logLines.push(l),
  });
const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e as DigitalOceanError,
  );
const count = (line: RegExp) => emulator.state.log!.filter((l) => line.test(l)).length;

beforeEach(async () => {
  emulator = await startEmulator({ timings: { importMs: 5, transferMs: 5, bootMs: 5 } });
});
afterEach(() => emulator.close());

test("GETs complete through 500s, dropped connections and a 429 burst", async () => {
  // Seeded, so every run sees the same faults (at these rates, about a third of all attempts fail).
  Object.assign(emulator.faults, { errorRate: { "GET /v2/regions": 0.25 }, dropRate: { "GET /v2/regions": 0.1 }, burst429: 3, seed: 20261128 });
  const c = client();
  for (let i = 0; i < 15; i++) {
    const regions: string[] = [];
    for await (const r of c.regions.list()) regions.push(r.slug);
    expect(regions).toContain("nyc3");
  }
  expect(count(/ 429$/)).toBe(3);
  expect(count(/^GET \/v2\/regions 500$/)).toBeGreaterThan(0);
  expect(logLines.some((l) => /429 too_many_requests; retrying/.test(l))).toBe(true);
});

test("a create that got a 500 is not repeated: it may have taken effect", async () => {
  emulator.faults.errorRate = { "POST /v2/images": 1 };
  const err = await errorOf(client().images.createCustom({ name: "x", url: "http://127.0.0.1:9/x.qcow2", region: "nyc3" }));
  expect(err).toBeInstanceOf(DigitalOceanError);
  expect(err).toMatchObject({ status: 500, id: "server_error", attempts: 1, method: "POST", path: "/v2/images" });
  expect(err!.requestId).toMatch(/^emu-/);
  expect(count(/^POST \/v2\/images /)).toBe(1);
});

test("a create whose connection dropped is not repeated either, and says why", async () => {
  emulator.faults.dropRate = { "POST /v2/images": 1 };
  const err = await errorOf(client().images.createCustom({ name: "x", url: "http://127.0.0.1:9/x.qcow2", region: "nyc3" }));
  expect(err).toMatchObject({ status: null, attempts: 1 });
  expect(err!.message).toMatch(/may have reached DigitalOcean, so it was not repeated/);
});

test("a create that could not connect at all is retried, then fails typed", async () => {
  const closed = await startEmulator();
  const url = closed.url;
  await closed.close();
  const err = await errorOf(client({ endpoint: url }).images.createCustom({ name: "x", url: "http://x/y", region: "nyc3" }));
  expect(err).toMatchObject({ status: null, id: "ECONNREFUSED", attempts: 6 });
});

test("GETs give up after maxAttempts of 500s with every attempt counted", async () => {
  emulator.faults.errorRate = { "GET /v2/images/:id": 1 };
  const err = await errorOf(client().images.get(12345));
  expect(err).toMatchObject({ status: 500, attempts: 6 });
  expect(count(/^GET \/v2\/images\/12345 500$/)).toBe(6);
});

test("404, 422 and 401 are never retried", async () => {
  expect(await errorOf(client().images.get(999))).toMatchObject({ status: 404, id: "not_found", attempts: 1 });
  expect(await errorOf(client().images.createCustom({ name: "x", url: "http://x/y", region: "mars1" }))).toMatchObject({ status: 422, attempts: 1 });
  expect(await errorOf(client({ token: "dop_v1_wrongtoken0123456789" }).images.get(1))).toMatchObject({ status: 401, id: "unauthorized", attempts: 1 });
  expect(count(/ (404|422|401)$/)).toBe(3);
});

test("no token appears in any error, its JSON or a log line", async () => {
  const secret = "dop_v1_" + "f".repeat(64);
  const errors = [
    await errorOf(client({ token: secret }).images.get(1)),
    await errorOf(client({ token: secret, endpoint: "http://127.0.0.1:9" }).regions.list().next()),
  ];
  emulator.faults.burst429 = 2;
  await client()
    .images.get(1)
    .catch(() => undefined);
  for (const e of errors) {
    expect(e).toBeInstanceOf(DigitalOceanError);
    const all = `${e!.message} ${JSON.stringify(e)} ${e!.stack} ${String(e!.cause)}`;
    expect(all).not.toContain(secret);
    expect(all).not.toContain(emulator.token);
  }
  for (const l of logLines) expect(l).not.toContain(emulator.token);
});

test("pagination follows links.pages.next across pages", async () => {
  const c = client();
  const slugs: string[] = [];
  for await (const r of c.http.paginate<{ slug: string }>("/v2/regions", "regions", {}, 5)) slugs.push(r.slug);
  expect(slugs).toHaveLength(12);
  expect(count(/^GET \/v2\/regions 200$/)).toBe(3);
});

test("a pagination link to another host never receives the token", async () => {
  const err = await errorOf(client().http.request("GET", "http://169.254.169.254/v2/regions"));
  expect(err).toMatchObject({ id: "bad_link" });
});

describe("rate limiter", () => {
  function fakeClock(): Clock & { t: number } {
    const c = {
      t: 0,
      now: () => c.t,
      sleep: async (ms: number) => {
        c.t += ms;
      },
    };
    return c;
  }

  test("holds a process to 250 requests a minute", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perMinute: 250, perHour: 5000 }, clock);
    for (let i = 0; i < 250; i++) await limiter.acquire();
    expect(clock.t).toBe(0);
    await limiter.acquire();
    expect(clock.t).toBeGreaterThanOrEqual(60_000);
  });

  test("and to 5,000 an hour", async () => {
    const clock = fakeClock();
    const limiter = new RateLimiter({ perMinute: 250, perHour: 5000 }, clock);
    for (let i = 0; i < 5001; i++) await limiter.acquire();
    expect(clock.t).toBeGreaterThanOrEqual(3_600_000);
  });
});

describe("waits that the API asks for", () => {
  /** Virtual time that moves only when someone sleeps, recording each sleep. */
  function virtualClock() {
    const c = {
      t: Date.now(),
      sleeps: [] as number[],
      now: () => c.t,
      sleep: async (ms: number) => {
        c.sleeps.push(ms);
        c.t += ms;
      },
    };
    return c;
  }

  /**
   * Virtual time for concurrent sleepers: a sleep is a timer, and time jumps to the earliest timer only once everything
   * runnable has run (a macrotask later), so each waiter wakes at its own time, as on a real clock.
   */
  function eventClock(): Clock & { t: number } {
    const timers: { at: number; resolve: () => void }[] = [];
    let scheduled = false;
    const c = {
      t: Date.now(),
      now: () => c.t,
      sleep: (ms: number) =>
        new Promise<void>((resolve) => {
          timers.push({ at: c.t + ms, resolve });
          schedule();
        }),
    };
    const schedule = () => {
      if (scheduled) return;
      scheduled = true;
      setImmediate(() => {
        scheduled = false;
        if (timers.length === 0) return;
        timers.sort((x, y) => x.at - y.at);
        c.t = Math.max(c.t, timers[0].at);
        for (const due of timers.splice(0, timers.filter((x) => x.at <= c.t).length)) due.resolve();
        if (timers.length > 0) schedule();
      });
    };
    return c;
  }

  test.each([
    ["retry-after: 2", { retryAfter: 2 }, 2000],
    ["ratelimit-reset 3 s ahead (no retry-after)", { resetIn: 3 }, 2000],
  ])("a 429 with %s is waited out before the retry", async (_what, wait, atLeast) => {
    const clock = virtualClock();
    Object.assign(emulator.faults, { burst429: 1, burst429Wait: wait });
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock, log: (l) => logLines.push(l) });
    const start = clock.t;
    expect((await c.images.list({ private: true }).next()).done).toBe(true);
    expect(count(/ 429$/)).toBe(1);
    // Backoff alone would wait at most 500 ms before the second attempt; the server asked for seconds.
    expect(clock.t - start).toBeGreaterThanOrEqual(atLeast);
    expect(clock.sleeps.length).toBe(1);
  });

  /** One list call against `bursts` 429s that ask for `wait`, on a virtual clock: the error it ends with, and the sleeps. */
  async function listThrough429s(bursts: number, wait: { retryAfter: number } | { resetIn: number }) {
    const clock = virtualClock();
    Object.assign(emulator.faults, { burst429: bursts, burst429Wait: wait });
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock });
    const err = await c.images
      .list({ private: true })
      .next()
      .catch((e: unknown) => e);
    Object.assign(emulator.faults, { burst429: 0 });
    return { clock, err };
  }

  test("a 429 asking for longer than do-image waits (the hourly budget) fails at once, saying when to run again", async () => {
    const { clock, err } = await listThrough429s(1, { resetIn: 1800 });
    expect(err).toBeInstanceOf(DigitalOceanError);
    expect(err).toMatchObject({
      status: 429,
      exitCode: 69,
      fix: expect.stringMatching(/reopens in 3[01] min, longer than do-image waits: run again after that/),
    });
    expect(clock.sleeps.length).toBe(0);
  });

  test("a 429 that holds through every attempt says so with the real wait, not as a window reopening in a minute", async () => {
    const { clock, err } = await listThrough429s(100, { retryAfter: 1 });
    expect(err).toMatchObject({ status: 429, fix: expect.stringMatching(/held through \d+ attempts, each waiting as asked \(last 1 s\)/) });
    expect((err as Error & { fix: string }).fix).not.toMatch(/reopens in/);
    expect(clock.sleeps.every((ms) => ms === 1000)).toBe(true);
  });

  test("a 503 with retry-after is waited out too, with a line saying so", async () => {
    const clock = virtualClock();
    Object.assign(emulator.faults, { burst503: 1, burst503RetryAfter: 20 });
    const lines: string[] = [];
    const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock, log: (l) => lines.push(l) });
    const start = clock.t;
    expect((await c.images.list({ private: true }).next()).done).toBe(true);
    expect(clock.t - start).toBeGreaterThanOrEqual(20_000);
    expect(lines).toEqual([expect.stringMatching(/503 service_unavailable; retrying in 20000 ms \(waiting as DigitalOcean asks\)/)]);
  });

  test("a token echoed back in an error body is redacted from the error, its JSON and the logs", async () => {
    emulator.faults.echoAuth = true;
    const secret = "dop_v1_" + "e".repeat(64);
    const wrong = await errorOf(client({ token: secret }).images.get(1));
    const missing = await errorOf(client().images.get(424242));
    emulator.faults.burst429 = 1;
    await client()
      .images.get(1)
      .catch(() => undefined);
    expect(emulator.state.log!.length).toBeGreaterThan(2);
    for (const [e, token] of [
      [wrong, secret],
      [missing, emulator.token],
    ] as const) {
      expect(e!.apiMessage).toMatch(/you sent Authorization: Bearer \[redacted\]/);
      expect(`${e!.message} ${JSON.stringify(e)} ${JSON.stringify(errorJson(e))} ${e!.stack}`).not.toContain(token);
    }
    for (const l of logLines) expect(l).not.toContain(emulator.token);
  });

  test("clients sharing a limiter keep 300 quick calls under 250 in any minute; clients on the real clock share one", async () => {
    await emulator.close();
    const sentAt: number[] = [];
    const clock = eventClock();
    // The server's own limit is lifted (it counts real time): only the client-side limiter holds the pace here.
    emulator = await startEmulator({ limits: { perMinute: 10_000, perHour: 100_000 } });
    const limiter = new RateLimiter(undefined, clock);
    // When the limiter lets each request go, in the clients' time (a response may come back after others slept).
    const acquire = limiter.acquire.bind(limiter);
    limiter.acquire = async () => {
      await acquire();
      sentAt.push(clock.t);
    };
    const a = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock, limiter });
    const b = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token, clock, limiter });
    await Promise.all(Array.from({ length: 300 }, (_, i) => (i % 2 ? a : b).regions.list().next()));
    expect(sentAt).toHaveLength(300);
    expect(count(/^GET \/v2\/regions 200$/)).toBe(300);
    const most = Math.max(...sentAt.map((t) => sentAt.filter((s) => s >= t && s < t + 60_000).length));
    expect(most).toBeLessThanOrEqual(250);
    expect(Math.max(...sentAt) - Math.min(...sentAt)).toBeGreaterThanOrEqual(60_000);
    expect(new DigitalOceanClient({ token: "t" }).http.limiter).toBe(sharedLimiter);
    expect(new DigitalOceanClient({ token: "t" }).http.limiter).toBe(new DigitalOceanClient({ token: "u" }).http.limiter);
  });
});
