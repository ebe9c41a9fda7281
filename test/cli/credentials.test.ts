// A token or key with a control character (a newline from `echo > file`) is a usage error naming where it came from,
// before any request: not a network error after every retry.
import { resolveApiSettings } from "../../provider/digitalocean/config";
import { exitCodeOf } from "../../provider/errors";
import { resolveSpacesSettings } from "../../provider/spaces/config";
import { spawnCli } from "../support/cli";

test.each([
  ["DIGITALOCEAN_TOKEN", () => resolveApiSettings({}, { DIGITALOCEAN_TOKEN: "dop_v1_abc\n" })],
  ["DIGITALOCEAN_ACCESS_TOKEN", () => resolveApiSettings({}, { DIGITALOCEAN_ACCESS_TOKEN: "dop_v1_abc\r" })],
  ["the API token given (digitalocean:token)", () => resolveApiSettings({ token: "a\tb" }, {})],
  ["SPACES_SECRET_ACCESS_KEY", () => resolveSpacesSettings({ region: "nyc3" }, { SPACES_ACCESS_KEY_ID: "DO00ABC", SPACES_SECRET_ACCESS_KEY: "secret\n" })],
  ["SPACES_ACCESS_KEY_ID", () => resolveSpacesSettings({ region: "nyc3" }, { SPACES_ACCESS_KEY_ID: "DO00\u007fABC", SPACES_SECRET_ACCESS_KEY: "s" })],
])("%s with a control character: usage error (64) naming it", (name, resolve) => {
  let err: unknown;
  try {
    resolve();
  } catch (e) {
    err = e;
  }
  expect(exitCodeOf(err)).toBe(64);
  expect(err).toMatchObject({ code: "usage", message: expect.stringContaining(`${name} contains a control character`) });
  expect((err as Error).message).not.toMatch(/dop_v1|secret|DO00/);
});

test("clean values pass through, the first source set wins", () => {
  expect(resolveApiSettings({}, { DIGITALOCEAN_TOKEN: "t1", DIGITALOCEAN_ACCESS_TOKEN: "t2\n" }).token).toBe("t1");
});

test("do-image ls with DIGITALOCEAN_TOKEN ending in a newline exits 64 at once, naming the variable", async () => {
  const r = await spawnCli(
    { ...process.env, NO_COLOR: "1", HOME: "/nonexistent", DIGITALOCEAN_TOKEN: "dop_v1_0123\n", DIGITALOCEAN_API_URL: "http://127.0.0.1:9" },
    ["ls", "--json"],
  );
  expect(r.code).toBe(64);
  expect(JSON.parse(r.stdout).error).toMatchObject({ code: "usage", field: "DIGITALOCEAN_TOKEN", fix: expect.stringContaining("tr -d") });
});
