// Where Spaces is and which keys to use: explicit settings first, then the environment, read at call time.

export interface SpacesSettings {
  /** The Spaces region ("nyc3", "sfo3", …), used for the default endpoint. */
  region?: string;
  /** S3 endpoint (digitalocean:spacesEndpoint, SPACES_ENDPOINT_URL); default https://<region>.digitaloceanspaces.com. */
  endpoint?: string;
  /** Access key (digitalocean:spacesAccessId, SPACES_ACCESS_KEY_ID). */
  accessKeyId?: string;
  /** Secret key (digitalocean:spacesSecretKey, SPACES_SECRET_ACCESS_KEY). */
  secretAccessKey?: string;
}

export interface ResolvedSpacesSettings {
  region: string;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export class MissingSpacesKeysError extends Error {
  constructor() {
    super(
      "no Spaces access keys: set the stack config digitalocean:spacesAccessId and digitalocean:spacesSecretKey (--secret), or the environment variables SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY; create a key under API → Spaces Keys in the DigitalOcean control panel",
    );
    this.name = "MissingSpacesKeysError";
  }
}

export function resolveSpacesSettings(explicit: SpacesSettings = {}, env: NodeJS.ProcessEnv = process.env): ResolvedSpacesSettings {
  const accessKeyId = explicit.accessKeyId || env.SPACES_ACCESS_KEY_ID;
  const secretAccessKey = explicit.secretAccessKey || env.SPACES_SECRET_ACCESS_KEY;
  if (!accessKeyId || !secretAccessKey) throw new MissingSpacesKeysError();
  const region = explicit.region || env.SPACES_REGION || "nyc3";
  const endpoint = (explicit.endpoint || env.SPACES_ENDPOINT_URL || `https://${region}.digitaloceanspaces.com`).replace(/\/+$/, "");
  return { region, endpoint, accessKeyId, secretAccessKey };
}
