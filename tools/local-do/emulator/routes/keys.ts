// /v2/account/keys: the account's SSH keys, by id or MD5 fingerprint as DigitalOcean computes it.
import { createHash } from "node:crypto";
import type { KeyRec } from "../types";
import { unprocessable } from "../world";
import { paginate, type Route } from "./route";

export const keyRoutes: Route[] = [
  { method: "GET", path: /^\/v2\/account\/keys$/, handle: (ctx) => ({ status: 200, json: paginate(ctx, "ssh_keys", ctx.world.state.keys ?? []) }) },
  {
    method: "POST",
    path: /^\/v2\/account\/keys$/,
    handle: ({ world, body }) => {
      const b = body();
      const publicKey = String(b.public_key ?? "").trim();
      const blob = publicKey.split(/\s+/)[1];
      if (!/^(ssh-|ecdsa-)/.test(publicKey) || !blob) throw unprocessable("Key invalid type, we support 'ssh-rsa', 'ssh-ed25519' and 'ecdsa-sha2-*' keys");
      const md5 = createHash("md5").update(Buffer.from(blob, "base64")).digest("hex");
      const key: KeyRec = { id: world.id(), name: String(b.name ?? "key"), fingerprint: md5.match(/../g)!.join(":"), public_key: publicKey };
      (world.state.keys ??= []).push(key);
      world.save();
      return { status: 201, json: { ssh_key: key } };
    },
  },
];
