// The emulator's routes and world in-process, without HTTP: the dispatch table, DigitalOcean's error shapes, paging,
// and the work that finishes later (an import from a URL, a transfer) settled by world.idle(), not by waiting.
import { join } from "node:path";
import { dispatch, ROUTES } from "../../tools/local-do/emulator/routes";
import { HttpError, World } from "../../tools/local-do/emulator/world";
import { serveFile } from "../support/static-server";

const BASE = "http://emulator.test";
const call = (world: World, method: string, path: string, body?: unknown) =>
  dispatch(world, method, new URL(path, BASE), BASE, body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body));
const refusal = async (p: Promise<unknown>) =>
  p.then(
    () => null,
    (err: HttpError) => ({ status: err.status, id: err.id }),
  );

let world: World;
beforeEach(async () => {
  world = await World.open({ validate: false, timings: { importMs: 0, transferMs: 0, bootMs: 0 } });
});
afterEach(() => world.close());

test("every route is a method and an anchored /v2 path, and no two routes serve the same method and path", () => {
  expect(ROUTES.length).toBeGreaterThanOrEqual(15);
  for (const r of ROUTES) expect(r.path.source).toMatch(/^\^\\\/v2\\\/.*\$$/);
  const keys = ROUTES.map((r) => `${r.method} ${r.path.source}`);
  expect(new Set(keys).size).toBe(keys.length);
});

test("a path or method no route serves is a 404; a body that is not JSON is a 400; a bad field is a 422", async () => {
  expect(await refusal(call(world, "GET", "/v2/nothing"))).toEqual({ status: 404, id: "not_found" });
  expect(await refusal(call(world, "PATCH", "/v2/images"))).toEqual({ status: 404, id: "not_found" });
  expect(await refusal(call(world, "GET", "/v2/images/12345"))).toEqual({ status: 404, id: "not_found" });
  expect(await refusal(call(world, "POST", "/v2/images", "{not json"))).toEqual({ status: 400, id: "bad_request" });
  expect(await refusal(call(world, "POST", "/v2/images", { name: "a", url: "http://x/a.img", region: "xyz9" }))).toEqual({
    status: 422,
    id: "unprocessable_entity",
  });
  expect(world.state.images).toEqual([]);
});

test("an import from a URL settles on world.idle(), then a transfer; the list pages with DigitalOcean's links", async () => {
  const served = await serveFile(join(__dirname, "..", "..", "examples", "images", "debian-12-sample.qcow2"));
  try {
    const created = (await call(world, "POST", "/v2/images", { name: "app", url: served.url, region: "nyc3", tags: ["t"] })) as {
      status: number;
      json: { image: { id: number; status: string } };
    };
    expect(created.status).toBe(202);
    expect(created.json.image.status).toBe("NEW");
    await world.idle();
    const id = created.json.image.id;
    expect(world.findImage(String(id))).toMatchObject({ status: "available", regions: ["nyc3"], tags: ["t"] });
    expect(world.state.tags).toEqual(["t"]);

    expect((await call(world, "POST", `/v2/images/${id}/actions`, { type: "transfer", region: "sfo3" })).status).toBe(201);
    // The same transfer again while the first is under way is refused, as DigitalOcean refuses it.
    expect(await refusal(call(world, "POST", `/v2/images/${id}/actions`, { type: "transfer", region: "sfo3" }))).toEqual({
      status: 422,
      id: "unprocessable_entity",
    });
    await world.idle();
    expect(world.findImage(String(id)).regions).toEqual(["nyc3", "sfo3"]);

    for (let i = 0; i < 4; i++) await call(world, "POST", "/v2/images", { name: `n${i}`, url: served.url, region: "nyc3" });
    await world.idle();
    const page = (await call(world, "GET", "/v2/images?per_page=2&page=2")) as {
      json: { images: { name: string }[]; links: { pages: Record<string, string> }; meta: { total: number } };
    };
    expect(page.json.meta.total).toBe(5);
    expect(page.json.images.map((i) => i.name)).toEqual(["n1", "n2"]);
    expect(Object.keys(page.json.links.pages).sort()).toEqual(["first", "last", "next", "prev"]);
    expect(page.json.links.pages.next).toBe(`${BASE}/v2/images?per_page=2&page=3`);
  } finally {
    await served.close();
  }
});
