// A link of a given speed in front of the local S3 server: a TCP proxy whose client-to-server bytes pass a token bucket
// shared by all connections, so uploads on loopback take as long as they would over a 50 MB/s line.
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { realClock, type Clock } from "do-image/internal";

export interface ThrottledLink {
  port: number;
  /** What passed through the link, and the pauses it imposed. */
  bucket: TokenBucket;
  close(): Promise<void>;
}

const UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
};

/** Bytes per second from "50MiB/s", "50MB/s", "400Mbit/s" or a plain number of bytes per second. */
export function parseRate(text: string): number {
  const m = /^\s*([\d.]+)\s*([a-z]*)(\/s)?\s*$/i.exec(text);
  const scale = m ? UNITS[m[2].toLowerCase()] : undefined;
  const rate = m && scale ? Number(m[1]) * scale : NaN;
  if (!(rate > 0)) throw new Error(`"${text}" is not a rate: write it as 50MiB/s, 50MB/s, 400Mbit/s or bytes per second`);
  return rate;
}

/**
 * A token bucket: `rate` bytes a second, with a burst of 50 ms worth (at least 64 KiB), on the clock `now` (ms).
 * `take` spends tokens and says how long the sender must pause; `owed` sums those pauses, the time the link imposed.
 */
export class TokenBucket {
  private readonly burst: number;
  private tokens: number;
  private last: number;
  /** Bytes that passed, and the milliseconds of pause they were charged. */
  bytes = 0;
  owed = 0;

  constructor(
    private readonly rate: number,
    private readonly now: () => number = Date.now,
  ) {
    this.burst = Math.max(64 * 1024, rate / 20);
    this.tokens = this.burst;
    this.last = now();
  }

  take(n: number): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    this.tokens -= n;
    this.bytes += n;
    const wait = this.tokens < 0 ? Math.ceil((-this.tokens / this.rate) * 1000) : 0;
    this.owed += wait;
    return wait;
  }
}

/** A proxy to `targetPort` whose uploads pass the bucket; pauses are slept on `clock` (a test's virtual one). */
export async function throttledLink(targetPort: number, bytesPerSecond: number, clock: Clock = realClock): Promise<ThrottledLink> {
  const bucket = new TokenBucket(bytesPerSecond, () => clock.now());
  const open = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    open.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    upstream.pipe(client);
    client.on("data", (chunk: Buffer) => {
      upstream.write(chunk);
      const wait = bucket.take(chunk.length);
      if (wait > 0) {
        client.pause();
        void clock.sleep(wait).then(() => client.resume());
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    bucket,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Connections still open (keep-alive) would hold close() until they time out.
        for (const socket of open) socket.destroy();
      }),
  };
}
