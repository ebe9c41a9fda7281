// /v2/regions.
import { paginate, type Route } from "./route";

export const regionRoutes: Route[] = [
  {
    method: "GET",
    path: /^\/v2\/regions$/,
    handle: (ctx) => ({
      status: 200,
      json: paginate(
        ctx,
        "regions",
        ctx.world.regions.map((r) => ctx.world.regionJson(r)),
      ),
    }),
  },
];
