// The local DigitalOcean: the API emulator and the S3 server for Spaces, started together.
import { startEmulator, type Emulator, type EmulatorOptions } from "./api";
import { startS3Server, type S3Server, type S3ServerOptions } from "./s3";

export { startEmulator, DEFAULT_REGIONS, type Emulator, type EmulatorOptions, type Exchange, type Faults, type Timings } from "./api";
export { startS3Server, type S3Server } from "./s3";

export interface LocalDigitalOcean {
  api: Emulator;
  s3: S3Server;
  /** The environment a client needs, as DIGITALOCEAN_* and SPACES_* variables. */
  env: Record<string, string>;
  /** The same settings as Pulumi stack config (digitalocean:token, digitalocean:apiEndpoint, …). */
  stackConfig: Record<string, string>;
  close(): Promise<void>;
}

export async function startLocalDigitalOcean(options: { api?: EmulatorOptions; s3?: S3ServerOptions } = {}): Promise<LocalDigitalOcean> {
  const s3 = await startS3Server(options.s3);
  const api = await startEmulator(options.api);
  const env = {
    DIGITALOCEAN_API_URL: api.url,
    DIGITALOCEAN_TOKEN: api.token,
    SPACES_ENDPOINT_URL: s3.url,
    SPACES_ACCESS_KEY_ID: s3.accessKeyId,
    SPACES_SECRET_ACCESS_KEY: s3.secretAccessKey,
  };
  const stackConfig = {
    "digitalocean:token": api.token,
    "digitalocean:apiEndpoint": api.url,
    "digitalocean:spacesAccessId": s3.accessKeyId,
    "digitalocean:spacesSecretKey": s3.secretAccessKey,
    "digitalocean:spacesEndpoint": s3.url,
  };
  return {
    api,
    s3,
    env,
    stackConfig,
    async close() {
      await api.close();
      await s3.close();
    },
  };
}
