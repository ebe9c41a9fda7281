// The local DigitalOcean with `--boot qemu`: a Droplet from an imported corpus image really boots with the account
// key it names, becomes active only then, and answers SSH at the address its networks give. The image is sent as
// `push` sends a raw disk by default, as do-image's compressed qcow2: a Droplet booting from it is the proof that the
// conversion keeps a system bootable.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DigitalOceanClient, waitForImage } from "../../provider/digitalocean";
import { openImage } from "../../provider/image";
import { writeCompressedQcow2 } from "../../provider/publish/qcow2";
import { exec, freshKey, login } from "../../provider/boot/ssh";
import { startEmulator } from "../../tools/local-do/emulator";
import { DropletsService } from "../../tools/local-do/services";
import { describeWithCorpus } from "../support/corpus";
import { serveFile } from "../support/static-server";

describeWithCorpus("local DigitalOcean --boot qemu", ["ok-gpt"], (corpus) => {
  test(
    "a Droplet boots from its image (do-image's compressed qcow2 of it), becomes active, and takes an SSH login with its key",
    async () => {
      const converted = join(mkdtempSync(join(tmpdir(), "emulator-boot-")), "ok-gpt.converted.qcow2");
      const source = await openImage(corpus.get("ok-gpt").path);
      try {
        const stats = await writeCompressedQcow2(source.disk, converted);
        expect(stats.dataClusters).toBeGreaterThan(1000);
      } finally {
        await source.close();
      }
      const emulator = await startEmulator({ boot: "qemu", timings: { importMs: 5 } });
      const file = await serveFile(converted);
      try {
        // Real time: the import downloads and reads a 500 MB image, and waits are measured in seconds here.
        const c = new DigitalOceanClient({ endpoint: emulator.url, token: emulator.token });
        const droplets = new DropletsService(c.http);
        const image = await c.images.createCustom({ name: "ok-gpt", url: file.url, region: "nyc3" });
        await waitForImage(c, image.id, { timeoutMs: 600_000 });
        const key = freshKey("emulator-test");
        const res = await fetch(`${emulator.url}/v2/account/keys`, {
          method: "POST",
          headers: { authorization: `Bearer ${emulator.token}`, "content-type": "application/json" },
          body: JSON.stringify({ name: "test", public_key: key.publicKey }),
        });
        const { ssh_key } = (await res.json()) as { ssh_key: { fingerprint: string } };
        const d = await droplets.create({ name: "web-1", region: "nyc3", size: "s-1vcpu-1gb", image: image.id, ssh_keys: [ssh_key.fingerprint] });
        expect(d.status).toBe("new");
        // The Droplet is active only once the boot worked: poll its status as a client would, up to the boot timeout.
        const deadline = Date.now() + 11 * 60_000;
        let got = await droplets.get(d.id);
        while (got.status === "new" && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 2000));
          got = await droplets.get(d.id);
        }
        const extra = got as unknown as { do_image_emulator?: { ssh?: string; boot?: unknown } };
        expect({ status: got.status, boot: extra.do_image_emulator?.boot }).toMatchObject({ status: "active", boot: { verdict: "works" } });
        expect(got.networks.v4[0].ip_address).toBe("127.0.0.1");
        const port = Number(extra.do_image_emulator!.ssh!.split(":")[1]);
        const r = await login(port, "debian", key, 30_000);
        if (!r.ok) throw new Error(`login failed: ${r.reason}`);
        try {
          expect((await exec(r.client, "hostname", 30_000)).stdout).toBe("web-1");
        } finally {
          r.client.end();
        }
      } finally {
        await file.close();
        await emulator.close();
      }
    },
    20 * 60_000,
  );
});
