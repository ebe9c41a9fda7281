// A link of a given speed in front of the local S3 server: a TCP proxy whose client-to-server bytes pass a token bucket
// shared by all connections, so uploads on loopback take as long as they would over a 50 MB/s line.
import { connect, createServer, type AddressInfo, type Server, type Socket } from "node:net";

export interface ThrottledLink {
  port: number;
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

export async function throttledLink(targetPort: number, bytesPerSecond: number): Promise<ThrottledLink> {
  const burst = Math.max(64 * 1024, bytesPerSecond / 20); // 50 ms worth of bytes
  let tokens = burst;
  let last = Date.now();
  /** Takes n bytes' worth of tokens; returns how long the sender must wait before sending more. */
  const take = (n: number): number => {
    const now = Date.now();
    tokens = Math.min(burst, tokens + ((now - last) / 1000) * bytesPerSecond);
    last = now;
    tokens -= n;
    return tokens < 0 ? Math.ceil((-tokens / bytesPerSecond) * 1000) : 0;
  };
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
      const wait = take(chunk.length);
      if (wait > 0) {
        client.pause();
        setTimeout(() => client.resume(), wait);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Connections still open (keep-alive) would hold close() until they time out.
        for (const socket of open) socket.destroy();
      }),
  };
}
