// Every format validate reads can be handed to QEMU as booted: the path and block driver do-image boot passes,
// opened by qemu-img with that driver, give the virtual size our readers see (compressed images through /proc).
import { execFileSync } from "node:child_process";
import { openImage } from "../../provider/image";
import { qemuPath } from "../../provider/boot/boot";
import { built, describeWithFixtures } from "../support/fixtures";

const FILES = [
  "good-gpt.raw",
  "good.qcow2",
  "good-sparse.vmdk",
  "good-stream.vmdk",
  "good-dynamic.vdi",
  "good-dynamic.vhdx",
  "good-fixed.vhdx",
  "good.qcow2.gz",
  "good-gpt.raw.bz2",
  "good-multistream.vhdx.bz2",
];

describeWithFixtures("the disk do-image boot gives QEMU", (fx) => {
  test.each(built(fx, FILES, (f) => f))("%s", async (file) => {
    const image = await openImage(fx.path(file));
    try {
      const info = JSON.parse(execFileSync("qemu-img", ["info", "--output=json", "-f", image.disk.format, qemuPath(image)], { encoding: "utf8" }));
      expect({ format: info.format, size: info["virtual-size"] }).toEqual({ format: image.disk.format, size: image.disk.size });
    } finally {
      await image.close();
    }
  });
});
