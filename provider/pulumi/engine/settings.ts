// Credentials from stack config, set by configure inside the provider host and read at call time; never serialized.
import type * as pulumi from "@pulumi/pulumi";
import type { ClientOptions } from "../../digitalocean";

const settings: { token?: string; apiEndpoint?: string; spacesAccessId?: string; spacesSecretKey?: string; spacesEndpoint?: string } = {};

export async function configure(req: pulumi.dynamic.ConfigureRequest): Promise<void> {
  const get = (k: string) => req.config.get(`digitalocean:${k}`) as string | undefined;
  settings.token = get("token");
  settings.apiEndpoint = get("apiEndpoint");
  settings.spacesAccessId = get("spacesAccessId");
  settings.spacesSecretKey = get("spacesSecretKey");
  settings.spacesEndpoint = get("spacesEndpoint");
}

export const api = (): ClientOptions => ({ token: settings.token, endpoint: settings.apiEndpoint });
export const spacesKeys = () => ({ accessKeyId: settings.spacesAccessId, secretAccessKey: settings.spacesSecretKey, endpoint: settings.spacesEndpoint });
