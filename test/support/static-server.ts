// Serves one local file over HTTP on 127.0.0.1, as a stand-in for an image URL the emulator downloads.
import { createReadStream, statSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export async function serveFile(path: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (req.url?.startsWith("/missing")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-length": statSync(path).size, "content-type": "application/octet-stream" });
    createReadStream(path).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${path.split("/").pop()}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
