// Progress lines to the engine, ephemeral, while the provider host runs under `pulumi up` (the engine address is argv[2]).
import type { PublishEvent } from "../../publish";

let engineClient: { log(req: unknown, cb: () => void): void } | null | undefined;

function log(resource: string, message: string): void {
  if (engineClient === undefined) {
    const addr = process.argv[2];
    engineClient = null;
    if (addr && /:\d+$/.test(addr)) {
      try {
        // The dynamic-provider host gives pulumi.log no engine address, so the engine is called as the SDK does it:
        // its gRPC stubs and @grpc/grpc-js (an optional peer dependency, installed with @pulumi/pulumi).
        /* eslint-disable @typescript-eslint/no-require-imports */
        const grpc = require("@grpc/grpc-js");
        const rpc = require("@pulumi/pulumi/proto/engine_grpc_pb");
        /* eslint-enable @typescript-eslint/no-require-imports */
        engineClient = new rpc.EngineClient(addr, grpc.credentials.createInsecure());
      } catch {
        engineClient = null;
      }
    }
  }
  if (!engineClient) return;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const proto = require("@pulumi/pulumi/proto/engine_pb");
  const req = new proto.LogRequest();
  req.setSeverity(proto.LogSeverity.INFO);
  req.setMessage(`${resource}: ${message}`);
  req.setEphemeral(true);
  engineClient.log(req, () => undefined);
}

/** The publish events worth a line in `pulumi up`: every 10 % of hashing and uploading, each status change. */
export function progressTo(resource: string): (e: PublishEvent) => void {
  let lastPct = -10;
  return (e) => {
    switch (e.type) {
      case "progress": {
        const pct = Math.floor((e.progress.bytes / Math.max(1, e.progress.total)) * 100);
        if (pct >= lastPct + 10 || pct === 100) {
          lastPct = pct;
          log(
            resource,
            `${{ hash: "hashing", upload: "uploading", convert: "converting and uploading" }[e.progress.phase]} ${pct}% (${(e.progress.rate / 1e6).toFixed(0)} MB/s)`,
          );
        }
        if (pct === 100) lastPct = -10;
        break;
      }
      case "importing":
        log(resource, `importing image ${e.image.id}: ${e.status} after ${Math.round(e.elapsedMs / 1000)} s`);
        break;
      case "transferring":
        log(resource, `copying to ${e.region}: ${e.status} after ${Math.round(e.elapsedMs / 1000)} s`);
        break;
      case "adopted":
        log(resource, `continuing with image ${e.image.id} from an earlier attempt`);
        break;
      case "waiting":
        log(resource, `waiting for another process on this machine publishing the same content (${e.lock})`);
        break;
      case "duplicate-removed":
        log(resource, `image ${e.image.id} of the same content was created first elsewhere; deleted the duplicate ${e.duplicate}`);
        break;
    }
  };
}
