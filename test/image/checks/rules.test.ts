// The rules behind the checks, without images: version comparison and the name of the datasource override file.
import { upstreamVersion, versionAtLeast } from "../../../provider/image/checks/cloud-init";
import { overrideFileName } from "../../../provider/image/checks/datasources";

test.each([
  ["22.4.2-1+deb12u4", true],
  ["1:0.7.7-0ubuntu1", true],
  ["0.7.5-0ubuntu1.22", false],
  ["0.7.6", false],
  ["0.7.10", true],
  ["23.1-r0", true],
  ["0.7.9~bzr1", true],
])("cloud-init %s is at least 0.7.7: %s", (v, ok) => {
  expect(versionAtLeast(upstreamVersion(v), [0, 7, 7])).toBe(ok);
});

test.each([
  [["/etc/cloud/cloud.cfg", "/etc/cloud/cloud.cfg.d/90_dpkg.cfg"], "/etc/cloud/cloud.cfg.d/99_digitalocean.cfg"],
  [["/etc/cloud/cloud.cfg.d/99_zz-local.cfg"], "/etc/cloud/cloud.cfg.d/z99_digitalocean.cfg"],
  [[], "/etc/cloud/cloud.cfg.d/99_digitalocean.cfg"],
])("the override for %j sorts last: %s", (files, name) => {
  expect(overrideFileName(files)).toBe(name);
});
