// Reaches the booted guest the way a Droplet's user does: sshd's banner on port 22, then a key login and commands.
import { connect } from "node:net";
import { Client, utils } from "ssh2";

export interface KeyPair {
  /** OpenSSH private key text. */
  privateKey: string;
  /** OpenSSH public key line. */
  publicKey: string;
}

/** A fresh ed25519 key for one boot; it never leaves the process and the temp directory. */
export function freshKey(comment: string): KeyPair {
  const k = utils.generateKeyPairSync("ed25519", { comment });
  return { privateKey: k.private, publicKey: k.public };
}

/**
 * Connects to host:port and reads the SSH identification line. QEMU's forwarder accepts the connection on the host
 * even when nothing listens in the guest and then closes it, so only the banner proves sshd answers.
 */
export function readBanner(port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1");
    let data = "";
    const done = (v: string | null) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    sock.on("data", (d: Buffer) => {
      data += d.toString("latin1");
      const line = data.split(/\r?\n/)[0];
      if (data.includes("\n")) done(line.startsWith("SSH-") ? line.trim() : null);
    });
    sock.on("error", () => done(null));
    sock.on("close", () => done(null));
  });
}

export type LoginResult = { ok: true; client: Client } | { ok: false; reason: string; authRejected: boolean };

export function login(port: number, user: string, key: KeyPair, timeoutMs: number): Promise<LoginResult> {
  return new Promise((resolve) => {
    const client = new Client();
    let settled = false;
    const settle = (r: LoginResult) => {
      if (settled) return;
      settled = true;
      if (!r.ok) client.end();
      resolve(r);
    };
    client.on("ready", () => settle({ ok: true, client }));
    client.on("error", (err: Error & { level?: string }) => settle({ ok: false, reason: err.message, authRejected: err.level === "client-authentication" }));
    client.on("close", () => settle({ ok: false, reason: "the connection closed before login", authRejected: false }));
    client.connect({
      host: "127.0.0.1",
      port,
      username: user,
      privateKey: key.privateKey,
      readyTimeout: timeoutMs,
      // A boot's host key is new every time; there is nothing to compare it with.
      hostVerifier: () => true,
    });
  });
}

export interface Remote {
  command: string;
  code: number | null;
  stdout: string;
  stderr: string;
}

export function exec(client: Client, command: string, timeoutMs: number): Promise<Remote> {
  return new Promise((resolve) => {
    let stdout = "";
    let stderr = "";
    const timer = setTimeout(() => resolve({ command, code: null, stdout, stderr: `${stderr}(no answer within ${timeoutMs / 1000} s)` }), timeoutMs);
    client.exec(command, (err, stream) => {
      if (err) {
        clearTimeout(timer);
        resolve({ command, code: null, stdout, stderr: err.message });
        return;
      }
      stream.on("data", (d: Buffer) => (stdout += d.toString()));
      stream.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      stream.on("close", (code: number | null) => {
        clearTimeout(timer);
        resolve({ command, code, stdout: stdout.trim(), stderr: stderr.trim() });
      });
    });
  });
}
