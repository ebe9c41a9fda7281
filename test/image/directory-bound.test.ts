// A directory past the entry bound (GUEST_LIMITS.directoryEntries, a million) is a finding of what reads it, not a
// listing held whole in memory: shown here with the bound lowered on a view of the reader, on a real ext4 made by mke2fs.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ext4, FileSource } from "../../provider/image";
import { readCloudConfig } from "../../provider/image/checks/cloud-config";
import { requireTools } from "../support/require";

const missing = requireTools(["mkfs.ext4"]);
if (missing) console.warn(`directory bound: ${missing}`);

(missing && process.env.REQUIRE_TOOLS !== "1" ? test.skip : test)(
  "a directory past the bound throws a typed error, and cloud-init's config directory past it is not followed",
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "dir-bound-"));
    const d = join(dir, "tree", "etc", "cloud", "cloud.cfg.d");
    mkdirSync(d, { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(d, `${i}.cfg`), "datasource_list: [ NoCloud ]\n");
    const img = join(dir, "fs.img");
    execFileSync("mkfs.ext4", ["-q", "-F", "-d", join(dir, "tree"), img, "8M"]);
    const src = await FileSource.open(img);
    try {
      const fs = await Ext4.open(src, img);
      // a view with the bound lowered, as withSymlinkHops makes one for GRUB's
      const low = Object.assign(Object.create(fs) as Ext4, { directoryEntries: 20 });
      await expect(low.readdir("/etc/cloud/cloud.cfg.d")).rejects.toMatchObject({ code: "ext-directory-over-limit" });
      expect((await fs.readdir("/etc/cloud/cloud.cfg.d"))!.length).toBe(50);
      const cfg = await readCloudConfig(low);
      expect(cfg.unfollowed).toEqual([{ path: "/etc/cloud/cloud.cfg.d", keys: ["*"], why: expect.stringMatching(/holds more than 20 entries/) }]);
      expect((await readCloudConfig(fs)).files).toHaveLength(50);
    } finally {
      await src.close();
    }
  },
  30_000,
);
