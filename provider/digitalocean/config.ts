// Where the API is and which token to use: explicit settings first, then the environment, read at call time.
import { credential, DoImageError, EXIT } from "../errors";

export const DEFAULT_API_URL = "https://api.digitalocean.com";

export interface ApiSettings {
  /** The API's base URL (digitalocean:apiEndpoint, DIGITALOCEAN_API_URL). */
  endpoint?: string;
  /** An API token (digitalocean:token, DIGITALOCEAN_TOKEN, DIGITALOCEAN_ACCESS_TOKEN). */
  token?: string;
}

export interface ResolvedApiSettings {
  endpoint: string;
  token: string;
}

export class MissingTokenError extends DoImageError {
  constructor() {
    super("no DigitalOcean API token", {
      code: "missing-token",
      fix: "set DIGITALOCEAN_TOKEN (or DIGITALOCEAN_ACCESS_TOKEN); on the command line --access-token or doctl's saved context also work, in a Pulumi stack `pulumi config set --secret digitalocean:token …`",
      exit: EXIT.usage,
    });
  }
}

export function resolveApiSettings(explicit: ApiSettings = {}, env: NodeJS.ProcessEnv = process.env): ResolvedApiSettings {
  const token = credential([
    ["the API token given (digitalocean:token)", explicit.token],
    ["DIGITALOCEAN_TOKEN", env.DIGITALOCEAN_TOKEN],
    ["DIGITALOCEAN_ACCESS_TOKEN", env.DIGITALOCEAN_ACCESS_TOKEN],
  ])?.value;
  if (!token) throw new MissingTokenError();
  const endpoint = (explicit.endpoint || env.DIGITALOCEAN_API_URL || DEFAULT_API_URL).replace(/\/+$/, "");
  return { endpoint, token };
}
