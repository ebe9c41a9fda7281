// The API's routes, one module per area, and the dispatch: the first route whose method and path match answers.
import { notFound, type World } from "../world";
import { dropletRoutes } from "./droplets";
import { imageRoutes } from "./images";
import { keyRoutes } from "./keys";
import { regionRoutes } from "./regions";
import { jsonBody, type Reply, type Route } from "./route";
import { tagRoutes } from "./tags";

export const ROUTES: readonly Route[] = [...regionRoutes, ...imageRoutes, ...keyRoutes, ...dropletRoutes, ...tagRoutes];

/** Answers one request from the table; a path or method no route serves is a 404, as DigitalOcean answers it. */
export async function dispatch(world: World, method: string, url: URL, base: string, rawBody: string): Promise<Reply> {
  const path = url.pathname.replace(/\/+$/, "");
  for (const route of ROUTES) {
    const match = route.method === method ? path.match(route.path) : null;
    if (!match) continue;
    let parsed: Record<string, unknown> | undefined;
    return route.handle({
      world,
      base,
      path,
      query: url.searchParams,
      params: match.slice(1),
      body: () => (parsed ??= jsonBody(rawBody)),
    });
  }
  throw notFound();
}
