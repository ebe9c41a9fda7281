// Where Spaces is and which keys to use: explicit settings first, then the environment, read at call time.
import { credential, DoImageError, EXIT, UsageError } from "../errors";

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

export class MissingSpacesKeysError extends DoImageError {
  constructor() {
    super("no Spaces access keys", {
      code: "missing-spaces-keys",
      fix: "create a key under API → Spaces Keys in the control panel and set SPACES_ACCESS_KEY_ID and SPACES_SECRET_ACCESS_KEY (in a Pulumi stack, the config digitalocean:spacesAccessId and digitalocean:spacesSecretKey, --secret)",
      exit: EXIT.usage,
    });
  }
}

export function resolveSpacesSettings(explicit: SpacesSettings = {}, env: NodeJS.ProcessEnv = process.env): ResolvedSpacesSettings {
  const accessKeyId = credential([
    ["the Spaces access key given (digitalocean:spacesAccessId)", explicit.accessKeyId],
    ["SPACES_ACCESS_KEY_ID", env.SPACES_ACCESS_KEY_ID],
  ])?.value;
  const secretAccessKey = credential([
    ["the Spaces secret key given (digitalocean:spacesSecretKey)", explicit.secretAccessKey],
    ["SPACES_SECRET_ACCESS_KEY", env.SPACES_SECRET_ACCESS_KEY],
  ])?.value;
  if (!accessKeyId || !secretAccessKey) throw new MissingSpacesKeysError();
  return { ...spacesLocation(explicit, env), accessKeyId, secretAccessKey };
}

/** The endpoint for a region (or the one set explicitly); needs no keys, so URLs can be planned before any upload. */
export function spacesLocation(explicit: SpacesSettings = {}, env: NodeJS.ProcessEnv = process.env): { region: string; endpoint: string } {
  // The region is given (publish/ decides it, $SPACES_REGION included); only the endpoint may come from the environment.
  const region = explicit.region;
  const endpoint = explicit.endpoint || env.SPACES_ENDPOINT_URL || (region ? `https://${region}.digitaloceanspaces.com` : undefined);
  if (!endpoint)
    throw new UsageError("no Spaces region", {
      fix: "name the bucket's region (--spaces-region, spaces.region or SPACES_REGION), e.g. nyc3, or its endpoint (SPACES_ENDPOINT_URL)",
      field: "spaces.region",
    });
  // Another S3 endpoint (a local one) needs no region: the endpoint alone addresses it.
  return { region: region ?? "", endpoint: endpoint.replace(/\/+$/, "") };
}
