// Drives a dynamic provider as the Pulumi engine does: the SDK serializes it, the real provider host shipped in
// @pulumi/pulumi runs it in a child process, and Configure/Check/Diff/Create/Read/Update/Delete go over gRPC.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, lstatSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "./root";
/* eslint-disable @typescript-eslint/no-require-imports */
const grpc = require("@grpc/grpc-js");
const providerRpc = require("@pulumi/pulumi/proto/provider_grpc_pb");
const providerProto = require("@pulumi/pulumi/proto/provider_pb");
const engineRpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
const { Struct } = require("google-protobuf/google/protobuf/struct_pb");
const { Empty } = require("google-protobuf/google/protobuf/empty_pb");
/* eslint-enable @typescript-eslint/no-require-imports */

const ROOT = packageRoot();

/** The provider host resolves "do-image/…" from node_modules, as in a user's program: link the package to itself. */
export function linkSelf(): void {
  const link = join(ROOT, "node_modules", "do-image");
  if (!existsSync(link) && !lstatSync(link, { throwIfNoEntry: false })) symlinkSync("..", link);
  if (!existsSync(join(ROOT, "dist", "provider", "pulumi", "engine", "index.js")))
    throw new Error("dist/ is missing: run 'make build' (make test does it first)");
}

export type Props = Record<string, unknown>;

export interface InitError {
  message: string;
  id?: string;
  properties?: Props;
}

export interface ProviderHost {
  configure(config: Record<string, string>): Promise<void>;
  check(olds: Props, news: Props): Promise<{ inputs: Props; failures: { property: string; reason: string }[] }>;
  diff(id: string, olds: Props, news: Props): Promise<{ changes: "none" | "some" | "unknown"; replaces: string[] }>;
  create(props: Props): Promise<{ id: string; properties: Props }>;
  read(id: string, props: Props): Promise<{ id: string; properties: Props; inputs: Props | null }>;
  update(id: string, olds: Props, news: Props): Promise<Props>;
  delete(id: string, props: Props): Promise<void>;
  /** Every log message the provider sent to the engine. */
  logs: string[];
  /** Everything the host process printed. */
  output: () => string;
  close(): Promise<void>;
}

const call = <T>(client: Record<string, (req: unknown, cb: (err: Error | null, res: T) => void) => void>, method: string, req: unknown) =>
  new Promise<T>((resolve, reject) => client[method].call(client, req, (err: Error | null, res: T) => (err ? reject(err) : resolve(res))));

/** Decodes the ErrorResourceInitFailed detail the host sends when a create failed after the resource existed. */
function initFailure(err: Error & { metadata?: { get(k: string): Buffer[] } }): InitError {
  const out: InitError = { message: err.message };
  const raw = err.metadata?.get("grpc-status-details-bin")?.[0];
  if (raw) {
    const { Status } = require("@pulumi/pulumi/proto/status_pb"); // eslint-disable-line @typescript-eslint/no-require-imports
    for (const any of Status.deserializeBinary(raw).getDetailsList()) {
      const detail = providerProto.ErrorResourceInitFailed.deserializeBinary(any.getValue());
      out.id = detail.getId();
      out.properties = detail.getProperties()?.toJavaScript();
    }
  }
  return out;
}

export async function startProviderHost(env: NodeJS.ProcessEnv = process.env, onLog?: (message: string) => void): Promise<ProviderHost> {
  linkSelf();
  const logs: string[] = [];
  const engine = new grpc.Server();
  engine.addService(engineRpc.EngineService, {
    log: (c: { request: { getMessage(): string } }, cb: (e: null, r: unknown) => void) => {
      logs.push(c.request.getMessage());
      onLog?.(c.request.getMessage());
      cb(null, new Empty());
    },
    getRootResource: (_c: unknown, cb: (e: null, r: unknown) => void) => cb(null, new (require("@pulumi/pulumi/proto/engine_pb").GetRootResourceResponse)()), // eslint-disable-line @typescript-eslint/no-require-imports
    setRootResource: (_c: unknown, cb: (e: null, r: unknown) => void) => cb(null, new (require("@pulumi/pulumi/proto/engine_pb").SetRootResourceResponse)()), // eslint-disable-line @typescript-eslint/no-require-imports
  });
  const enginePort: number = await new Promise((resolve, reject) =>
    engine.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e: Error | null, p: number) => (e ? reject(e) : resolve(p))),
  );
  const hostScript = join(ROOT, "node_modules", "@pulumi", "pulumi", "cmd", "dynamic-provider", "index.js");
  const child: ChildProcess = spawn(process.execPath, [hostScript, `127.0.0.1:${enginePort}`], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stderr!.on("data", (d) => (output += d));
  const port: string = await new Promise((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      output += d;
      const m = /^(\d+)\s*$/m.exec(output);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`provider host exited with ${code}: ${output}`)));
  });
  const client = new providerRpc.ResourceProviderClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  // Like the engine's marshalling: a Struct has no `undefined`, so such keys are dropped rather than rejected.
  const struct = (p: Props) => Struct.fromJavaScript(JSON.parse(JSON.stringify(p)));
  return {
    logs,
    output: () => output,
    async configure(config) {
      const req = new providerProto.ConfigureRequest();
      req.setArgs(struct(config));
      await call(client, "configure", req);
    },
    async check(olds, news) {
      const req = new providerProto.CheckRequest();
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<{ getInputs(): { toJavaScript(): Props }; getFailuresList(): { getProperty(): string; getReason(): string }[] }>(
        client,
        "check",
        req,
      );
      return { inputs: res.getInputs().toJavaScript(), failures: res.getFailuresList().map((f) => ({ property: f.getProperty(), reason: f.getReason() })) };
    },
    async diff(id, olds, news) {
      const req = new providerProto.DiffRequest();
      req.setId(id);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<{ getChanges(): number; getReplacesList(): string[] }>(client, "diff", req);
      const C = providerProto.DiffResponse.DiffChanges;
      return { changes: res.getChanges() === C.DIFF_SOME ? "some" : res.getChanges() === C.DIFF_NONE ? "none" : "unknown", replaces: res.getReplacesList() };
    },
    async create(props) {
      const req = new providerProto.CreateRequest();
      req.setProperties(struct(props));
      try {
        const res = await call<{ getId(): string; getProperties(): { toJavaScript(): Props } }>(client, "create", req);
        return { id: res.getId(), properties: res.getProperties().toJavaScript() };
      } catch (err) {
        throw Object.assign(new Error((err as Error).message), { init: initFailure(err as Error) });
      }
    },
    async read(id, props) {
      const req = new providerProto.ReadRequest();
      req.setId(id);
      req.setProperties(struct(props));
      const res = await call<{ getId(): string; getProperties(): { toJavaScript(): Props } | undefined; getInputs(): { toJavaScript(): Props } | undefined }>(
        client,
        "read",
        req,
      );
      return { id: res.getId(), properties: res.getProperties()?.toJavaScript() ?? {}, inputs: res.getInputs()?.toJavaScript() ?? null };
    },
    async update(id, olds, news) {
      const req = new providerProto.UpdateRequest();
      req.setId(id);
      req.setOlds(struct(olds));
      req.setNews(struct(news));
      const res = await call<{ getProperties(): { toJavaScript(): Props } }>(client, "update", req);
      return res.getProperties().toJavaScript();
    },
    async delete(id, props) {
      const req = new providerProto.DeleteRequest();
      req.setId(id);
      req.setProperties(struct(props));
      await call(client, "delete", req);
    },
    async close() {
      client.close();
      child.kill();
      await new Promise<void>((resolve) => engine.tryShutdown(() => resolve()));
    },
  };
}

/** Runs a Pulumi program's constructors under the SDK's mocks and returns each resource's inputs as the engine would get them. */
export async function serializeWithMocks(build: () => { id: { apply<U>(f: (v: string) => U): unknown } }[]): Promise<Map<string, Props>> {
  const pulumi = await import("@pulumi/pulumi");
  const registered = new Map<string, Props>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        registered.set(args.name, { ...(args.inputs as Props), __type: args.type });
        return { id: `${args.name}-id`, state: args.inputs };
      },
      call: (args) => args.inputs,
    },
    "do-image-test",
    "dev",
    false,
  );
  const resources = build();
  // A resource's id resolves once the engine (here the mocks) has registered it with its serialized inputs.
  await Promise.all(resources.map((r) => new Promise<void>((resolve) => r.id.apply(() => resolve()))));
  return registered;
}
