// What a route is: a method and a path pattern, and a handler given the request's context; the table is in index.ts.
import { HttpError, type World } from "../world";

export interface Reply {
  status: number;
  json?: unknown;
}

export interface RouteContext {
  world: World;
  /** The server's own address, for links. */
  base: string;
  path: string;
  query: URLSearchParams;
  /** The captured groups of the route's pattern. */
  params: string[];
  /** The request body as JSON ({} when empty); a 400 when it is not JSON. */
  body(): Record<string, unknown>;
}

export interface Route {
  method: string;
  path: RegExp;
  handle(ctx: RouteContext): Reply | Promise<Reply>;
}

/** Parses a JSON request body as DigitalOcean does: empty is {}, anything else must be JSON. */
export function jsonBody(raw: string): Record<string, unknown> {
  if (!raw) return {};
  try {
    return JSON.parse(raw);
  } catch {
    throw new HttpError(400, "bad_request", "The request body is not valid JSON.");
  }
}

/** A page of `items` under `key`, with DigitalOcean's links.pages and meta.total. */
export function paginate(ctx: RouteContext, key: string, items: unknown[]) {
  const { base, path, query } = ctx;
  const perPage = Math.min(200, Math.max(1, Number(query.get("per_page") ?? 20)));
  const page = Math.max(1, Number(query.get("page") ?? 1));
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const link = (p: number) => {
    const q = new URLSearchParams(query);
    q.set("page", String(p));
    q.set("per_page", String(perPage));
    return `${base}${path}?${q}`;
  };
  const pages: Record<string, string> = {};
  if (page < last) Object.assign(pages, { next: link(page + 1), last: link(last) });
  if (page > 1) Object.assign(pages, { first: link(1), prev: link(page - 1) });
  return { [key]: items.slice((page - 1) * perPage, page * perPage), links: { pages }, meta: { total: items.length } };
}
