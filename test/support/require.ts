// Which of the external tools a suite needs are missing from PATH, named with the Debian package that brings each.
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

const PACKAGES: Record<string, string> = {
  "qemu-system-x86_64": "qemu-system-x86",
  "qemu-img": "qemu-utils",
  mmdebstrap: "mmdebstrap",
  "grub-mkimage": "grub-common",
  pvcreate: "lvm2",
  vgcfgrestore: "lvm2",
};

const onPath = (tool: string) =>
  (process.env.PATH ?? "").split(delimiter).some((d) => {
    try {
      accessSync(join(d, tool), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

/** A one-line reason naming what to install, or undefined when every tool is there. */
export function requireTools(tools: string[]): string | undefined {
  const missing = tools.filter((t) => !onPath(t));
  if (missing.length === 0) return undefined;
  return `missing ${missing.join(", ")} (Debian: apt-get install ${[...new Set(missing.map((t) => PACKAGES[t] ?? t))].join(" ")})`;
}
