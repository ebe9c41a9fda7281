// Where the CLI finds its API token, as doctl does: --access-token, then DIGITALOCEAN_TOKEN / DIGITALOCEAN_ACCESS_TOKEN,
// then doctl's saved context (~/.config/doctl/config.yaml), so a machine set up for doctl needs nothing more.
import { readFileSync } from "node:fs";
import { load } from "js-yaml";
import { homedir } from "node:os";
import { join } from "node:path";
import { credential, UsageError } from "../errors";

export interface TokenFlags {
  accessToken?: string;
  context?: string;
  apiUrl?: string;
}

function doctlConfigFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CONFIG_HOME || join(homedir(), ".config"), "doctl", "config.yaml");
}

/** The token of doctl's context `name` (or its current one): `access-token` for "default", `auth-contexts` for others. */
function doctlToken(name: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  let text: string;
  try {
    text = readFileSync(doctlConfigFile(env), "utf8");
  } catch {
    if (name)
      throw new UsageError(`--context ${name}: doctl has no config at ${doctlConfigFile(env)}`, {
        fix: "run doctl auth init --context NAME first, or pass --access-token",
      });
    return undefined;
  }
  type DoctlConfig = { "access-token"?: string; context?: string; "auth-contexts"?: Record<string, string> } | null | undefined;
  let config: DoctlConfig;
  try {
    config = load(text, { json: true }) as DoctlConfig;
  } catch (err) {
    throw new UsageError(`doctl's config ${doctlConfigFile(env)} is not valid YAML: ${(err as { reason?: string }).reason ?? (err as Error).message}`, {
      fix: "repair it (doctl auth init rewrites it), or pass --access-token or set DIGITALOCEAN_TOKEN",
    });
  }
  const context = name ?? config?.context ?? "default";
  const token = context === "default" ? config?.["access-token"] : config?.["auth-contexts"]?.[context];
  if (!token && name)
    throw new UsageError(`--context ${name}: doctl's config has no such context`, {
      fix: `list them with doctl auth list; pass one of them or --access-token`,
    });
  return token || undefined;
}

/** The API settings for the client: endpoint and token, with the token from the first source that has one. */
export function apiSettings(flags: TokenFlags, env: NodeJS.ProcessEnv = process.env): { token?: string; endpoint?: string } {
  const token =
    credential([
      ["--access-token", flags.accessToken],
      ["DIGITALOCEAN_TOKEN", env.DIGITALOCEAN_TOKEN],
      ["DIGITALOCEAN_ACCESS_TOKEN", env.DIGITALOCEAN_ACCESS_TOKEN],
    ])?.value ?? credential([["the token in doctl's config", doctlToken(flags.context, env)]])?.value;
  return { token, endpoint: flags.apiUrl };
}
