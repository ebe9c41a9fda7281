// An engine-less runner for Pulumi programs — a TEST HARNESS, not Pulumi. It runs a program under the SDK's mocks,
// sends every dynamic resource through its serialized provider in Pulumi's real provider host (over gRPC), sends
// every digitalocean Droplet to the local emulator, and keeps a JSON state across preview, up, refresh and destroy,
// so the scenario a user runs with `pulumi up` is tested here without the Pulumi CLI.
import { scaledClock } from "../clock";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { Output } from "@pulumi/pulumi";
import { DigitalOceanClient, DigitalOceanError, type Droplet } from "do-image";
import { DropletsService } from "../services";
import { startProviderHost, type InitError, type ProviderHost, type Props } from "../pulumi-host";

export const HARNESS = "[do-image test runner — not the Pulumi engine]";
const DROPLET = "digitalocean:index/droplet:Droplet";

interface StateResource {
  key: string;
  type: string;
  name: string;
  id: string;
  inputs: Props;
  outputs: Props;
}

interface State {
  resources: StateResource[];
  outputs?: Props;
}

export type Op = "create" | "update" | "replace" | "delete" | "same" | "refresh" | "gone";

export interface RunResult {
  ops: { op: Op; key: string; detail?: string }[];
  outputs: Props;
  state: State;
}

export interface RunnerOptions {
  /** Path of the program's compiled module (it registers resources when required). */
  program: string;
  project: string;
  stack: string;
  /** Stack config as the CLI would hold it: "ns:key" → value (objects as JSON text). */
  config: Record<string, string>;
  stateFile: string;
  /** Where progress lines go; each is prefixed with the harness label. */
  log?: (line: string) => void;
  env?: NodeJS.ProcessEnv;
}

const keyOf = (type: string, name: string) => `${type}::${name}`;

/**
 * Node's own loader: the program and the SDK must be one instance (the mocks are set on it), and each run must
 * execute the program afresh, whatever module system (jest's included) loaded this harness.
 */
const nodeRequire = createRequire(__filename);
const sameJson = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

function loadState(file: string): State {
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as State) : { resources: [] };
}

class Run {
  readonly ops: RunResult["ops"] = [];
  readonly seen = new Set<string>();
  /** Old resources replaced during this run, deleted at the end in reverse creation order (as the engine does). */
  readonly pendingDeletes: StateResource[] = [];
  readonly client: DigitalOceanClient;
  readonly droplets: DropletsService;

  constructor(
    readonly opts: RunnerOptions,
    readonly host: ProviderHost,
    readonly state: State,
    readonly preview: boolean,
  ) {
    this.client = new DigitalOceanClient({
      token: opts.config["digitalocean:token"],
      endpoint: opts.config["digitalocean:apiEndpoint"],
      clock: scaledClock(0.05),
    });
    this.droplets = new DropletsService(this.client.http);
  }

  log(line: string): void {
    this.opts.log?.(`${HARNESS} ${line}`);
  }

  op(op: Op, key: string, detail?: string): void {
    this.ops.push({ op, key, detail });
    if (op !== "same") this.log(`${op.padEnd(8)} ${key}${detail ? ` (${detail})` : ""}`);
  }

  put(r: StateResource): void {
    const i = this.state.resources.findIndex((x) => x.key === r.key);
    if (i >= 0) this.state.resources[i] = r;
    else this.state.resources.push(r);
  }

  async register(type: string, name: string, inputs: Props, custom: boolean): Promise<{ id: string; state: Props }> {
    const key = keyOf(type, name);
    this.seen.add(key);
    if (!custom) return { id: "", state: inputs };
    const prior = this.state.resources.find((r) => r.key === key);
    if (type.startsWith("pulumi-nodejs:dynamic")) return this.dynamic(key, type, name, inputs, prior);
    if (type === DROPLET) return this.droplet(key, type, name, inputs, prior);
    throw new Error(`${HARNESS} cannot run resources of type ${type}`);
  }

  private async dynamic(key: string, type: string, name: string, inputs: Props, prior?: StateResource): Promise<{ id: string; state: Props }> {
    const checked = await this.host.check(prior?.inputs ?? {}, inputs);
    if (checked.failures.length > 0) {
      throw new Error(`${name}: ${checked.failures.map((f) => `${f.property}: ${f.reason}`).join("\n  ")}`);
    }
    const news = checked.inputs;
    if (prior) {
      const d = await this.host.diff(prior.id, prior.outputs, news);
      if (d.changes !== "some") {
        this.op("same", key);
        if (!this.preview) this.put({ ...prior, inputs: news });
        return { id: prior.id, state: prior.outputs };
      }
      if (d.replaces.length === 0) {
        this.op("update", key);
        if (this.preview) return { id: prior.id, state: { ...prior.outputs, ...news } };
        const outs = await this.host.update(prior.id, prior.outputs, news);
        this.put({ ...prior, inputs: news, outputs: outs });
        return { id: prior.id, state: outs };
      }
      this.op("replace", key, `changed: ${d.replaces.join(", ")}`);
      if (this.preview) return { id: prior.id, state: { ...prior.outputs, ...news } };
      this.pendingDeletes.push(prior);
    } else {
      this.op("create", key);
      if (this.preview) return { id: "", state: news };
    }
    try {
      const r = await this.host.create(news);
      this.put({ key, type, name, id: r.id, inputs: news, outputs: r.properties });
      return { id: r.id, state: r.properties };
    } catch (err) {
      // An initialization error: the resource exists; record it so it is not leaked, as the engine does.
      const init = (err as { init?: InitError }).init;
      if (init?.id) this.put({ key, type, name, id: init.id, inputs: news, outputs: init.properties ?? {} });
      throw err;
    }
  }

  private dropletOutputs(d: Droplet, inputs: Props): Props {
    return {
      ...inputs,
      name: d.name,
      region: d.region.slug,
      size: d.size_slug,
      image: String(d.image.id),
      status: d.status,
      ipv4Address: d.networks.v4.find((n) => n.type === "public")?.ip_address ?? "",
      tags: d.tags,
      vpcUuid: d.vpc_uuid,
      urn: `urn:pulumi:${this.opts.stack}::${this.opts.project}::${DROPLET}::${inputs.name}`,
    };
  }

  private async droplet(key: string, type: string, name: string, inputs: Props, prior?: StateResource): Promise<{ id: string; state: Props }> {
    // What the DigitalOcean provider replaces on: everything but tags, which it updates in place.
    const replaceKeys = ["image", "region", "size", "name", "sshKeys", "userData", "vpcUuid", "monitoring", "ipv6", "backups"];
    if (prior) {
      const changed = replaceKeys.filter((k) => !sameJson(prior.inputs[k], inputs[k]));
      if (changed.length === 0) {
        if (!sameJson(prior.inputs.tags, inputs.tags)) {
          this.op("update", key, "tags");
          if (!this.preview) {
            const want = (inputs.tags as string[] | undefined) ?? [];
            for (const t of want) {
              await this.client.tags.create(t);
              await this.client.tags.tag(t, [{ resource_id: prior.id, resource_type: "droplet" }]);
            }
            const d = await this.droplets.get(Number(prior.id));
            this.put({ ...prior, inputs, outputs: this.dropletOutputs(d, inputs) });
          }
        } else this.op("same", key);
        return { id: prior.id, state: this.state.resources.find((r) => r.key === key)!.outputs };
      }
      this.op("replace", key, `changed: ${changed.join(", ")}`);
      if (this.preview) return { id: prior.id, state: { ...prior.outputs, ...inputs } };
      this.pendingDeletes.push(prior);
    } else {
      this.op("create", key);
      if (this.preview) return { id: "", state: { ...inputs, status: "new", ipv4Address: "" } };
    }
    const created = await this.droplets.create({
      name: inputs.name as string,
      region: inputs.region as string,
      size: inputs.size as string,
      image: Number(inputs.image),
      ssh_keys: inputs.sshKeys as string[],
      user_data: inputs.userData as string | undefined,
      tags: inputs.tags as string[] | undefined,
      vpc_uuid: inputs.vpcUuid as string | undefined,
      monitoring: inputs.monitoring as boolean | undefined,
      ipv6: inputs.ipv6 as boolean | undefined,
      backups: inputs.backups as boolean | undefined,
    });
    let d = created;
    while (d.status !== "active") {
      await this.client.http.clock.sleep(1000);
      d = await this.droplets.get(created.id);
    }
    const outputs = this.dropletOutputs(d, inputs);
    this.put({ key, type, name, id: String(d.id), inputs, outputs });
    return { id: String(d.id), state: outputs };
  }

  async deleteResource(r: StateResource): Promise<void> {
    this.op("delete", r.key);
    if (r.type === DROPLET) {
      await this.droplets.delete(Number(r.id)).catch((err) => {
        if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
      });
    } else await this.host.delete(r.id, r.outputs);
    const i = this.state.resources.indexOf(r);
    if (i >= 0) this.state.resources.splice(i, 1);
  }
}

async function withHost<T>(opts: RunnerOptions, body: (host: ProviderHost) => Promise<T>): Promise<T> {
  const host = await startProviderHost(opts.env ?? process.env, (m) => opts.log?.(`${HARNESS}     ${m}`));
  try {
    await host.configure(opts.config);
    return await body(host);
  } finally {
    await host.close();
  }
}

async function runProgram(opts: RunnerOptions, preview: boolean): Promise<RunResult> {
  const state = loadState(opts.stateFile);
  return withHost(opts, async (host) => {
    const run = new Run(opts, host, state, preview);
    const pulumi = nodeRequire("@pulumi/pulumi") as typeof import("@pulumi/pulumi");
    const settings = nodeRequire("@pulumi/pulumi/runtime/settings") as { waitForRPCs(): Promise<void> };
    const failures: Error[] = [];
    let failed: (err: Error) => void = () => undefined;
    // The first failed registration ends the run, as it ends `pulumi up`: resources waiting on it would wait forever.
    const firstFailure = new Promise<void>((_, reject) => (failed = reject));
    firstFailure.catch(() => undefined);
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          try {
            return await run.register(args.type, args.name, args.inputs as Props, args.custom !== false);
          } catch (err) {
            failures.push(err as Error);
            failed(err as Error);
            throw err;
          }
        },
        call: (args) => args.inputs,
      },
      opts.project,
      opts.stack,
      preview,
    );
    pulumi.runtime.setAllConfig(opts.config);
    const resolved = nodeRequire.resolve(opts.program);
    delete nodeRequire.cache[resolved];
    run.log(`${preview ? "preview" : "up"} ${opts.project}/${opts.stack}`);
    const program = nodeRequire(resolved) as Record<string, unknown>;
    await Promise.race([settings.waitForRPCs(), firstFailure]).catch(() => undefined);
    if (failures.length > 0) throw new Error(`${HARNESS} ${preview ? "preview" : "up"} failed:\n  ${failures.map((f) => f.message).join("\n  ")}`);
    const outputs: Props = {};
    // In a preview, outputs of resources not yet created are unknown and never resolve: only an up reports them.
    for (const [k, v] of preview ? [] : Object.entries(program)) {
      const value = (o: unknown) => new Promise((resolve) => (o as Output<unknown>).apply((x) => resolve(x)));
      if (pulumi.Output.isInstance(v)) outputs[k] = await value(v);
      else if (Array.isArray(v) && v.every((x) => pulumi.Output.isInstance(x))) outputs[k] = await Promise.all(v.map(value));
    }
    if (!preview) {
      // Replaced resources and resources no longer in the program go last, newest first.
      const gone = state.resources.filter((r) => !run.seen.has(r.key));
      const doomed = [...run.pendingDeletes, ...gone];
      const order = (r: StateResource) => loadState(opts.stateFile).resources.findIndex((x) => x.key === r.key && x.id === r.id);
      doomed.sort((a, b) => order(b) - order(a));
      for (const r of doomed) await run.deleteResource(r);
      state.outputs = outputs;
      writeFileSync(opts.stateFile, JSON.stringify(state, null, 2));
    } else {
      for (const r of state.resources.filter((x) => !run.seen.has(x.key))) run.op("delete", r.key);
    }
    return { ops: run.ops, outputs, state };
  });
}

export const preview = (opts: RunnerOptions) => runProgram(opts, true);
export const up = (opts: RunnerOptions) => runProgram(opts, false);

/** Reads every resource in state back from DigitalOcean; what is gone leaves the state. */
export async function refresh(opts: RunnerOptions): Promise<RunResult> {
  const state = loadState(opts.stateFile);
  return withHost(opts, async (host) => {
    const run = new Run(opts, host, state, false);
    run.log(`refresh ${opts.project}/${opts.stack}`);
    for (const r of [...state.resources]) {
      if (r.type === DROPLET) {
        try {
          const d = await run.droplets.get(Number(r.id));
          r.outputs = { ...r.outputs, status: d.status, ipv4Address: d.networks.v4.find((n) => n.type === "public")?.ip_address ?? "" };
          run.op("refresh", r.key);
        } catch (err) {
          if (!(err instanceof DigitalOceanError && err.notFound)) throw err;
          state.resources.splice(state.resources.indexOf(r), 1);
          run.op("gone", r.key);
        }
        continue;
      }
      const read = await host.read(r.id, r.outputs);
      if (!read.id) {
        state.resources.splice(state.resources.indexOf(r), 1);
        run.op("gone", r.key);
        continue;
      }
      r.outputs = read.properties;
      if (read.inputs) r.inputs = read.inputs;
      run.op("refresh", r.key);
    }
    writeFileSync(opts.stateFile, JSON.stringify(state, null, 2));
    return { ops: run.ops, outputs: state.outputs ?? {}, state };
  });
}

export async function destroy(opts: RunnerOptions): Promise<RunResult> {
  const state = loadState(opts.stateFile);
  return withHost(opts, async (host) => {
    const run = new Run(opts, host, state, false);
    run.log(`destroy ${opts.project}/${opts.stack}`);
    for (const r of [...state.resources].reverse()) await run.deleteResource(r);
    state.outputs = {};
    writeFileSync(opts.stateFile, JSON.stringify(state, null, 2));
    return { ops: run.ops, outputs: {}, state };
  });
}
