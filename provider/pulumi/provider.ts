// The dynamic provider the engine serializes into state: forwards by package name, captures nothing (no secrets, clients or Maps).
//
// Each method requires "do-image/pulumi-engine" when it runs, inside Pulumi's provider host, which resolves it from
// the program's node_modules. The serialized text is therefore a few lines that never change with settings, so it
// never causes a diff, and credentials are read at call time by the engine module's configure.
import type * as pulumi from "@pulumi/pulumi";

/* eslint-disable @typescript-eslint/no-require-imports */
export const customImageProvider: pulumi.dynamic.ResourceProvider = {
  async configure(req) {
    return require("do-image/pulumi-engine").configure(req);
  },
  async check(olds, news) {
    return require("do-image/pulumi-engine").check(olds, news);
  },
  async diff(id, olds, news) {
    return require("do-image/pulumi-engine").diff(id, olds, news);
  },
  async create(inputs) {
    return require("do-image/pulumi-engine").create(inputs);
  },
  async read(id, props) {
    return require("do-image/pulumi-engine").read(id, props);
  },
  async update(id, olds, news) {
    return require("do-image/pulumi-engine").update(id, olds, news);
  },
  async delete(id, props) {
    return require("do-image/pulumi-engine").remove(id, props);
  },
};
/* eslint-enable @typescript-eslint/no-require-imports */
