// Locates ../shared (present in sessions and CI, absent on a user's machine) for the tests that need it.
import { existsSync } from "node:fs";
import { join } from "node:path";

export const SHARED = join(__dirname, "..", "..", "..", "shared");
export const OPENAPI = join(SHARED, "digitalocean-openapi", "digitalocean-images.openapi.yaml");
export const PULUMI_METASCHEMA = join(SHARED, "pulumi-schema", "pulumi.json");

export function describeWithShared(name: string, file: string, body: () => void): void {
  if (!existsSync(file)) {
    console.warn(`skipped "${name}": ${file} is absent (../shared exists only in development sessions and CI)`);
    describe.skip(name, body);
    return;
  }
  describe(name, body);
}
