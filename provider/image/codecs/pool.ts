// A pool of worker threads running one kind of job, in the order given; where the compiled worker file is missing
// (TypeScript run from source), jobs run in this thread instead.
import { existsSync } from "node:fs";
import { join } from "node:path";

export interface Executor<J, R> {
  run(job: J, transfer?: ArrayBuffer[]): Promise<R>;
  close(): Promise<void>;
  readonly parallel: boolean;
}

/**
 * `workers` threads of `<name>.js` beside this file, each answering a job message with a reply that carries the job's
 * id. `inThread` runs a job here when there is no worker file (or `workers` is 0); `failed` makes the reply for a job
 * whose worker died.
 */
export async function workerPool<J extends { id: number }, R extends { id: number }>(
  name: string,
  workers: number,
  inThread: () => Promise<(job: J) => R>,
  failed: (id: number, err: Error) => R,
): Promise<Executor<J, R>> {
  const file = join(__dirname, `${name}.js`);
  if (workers <= 0 || !existsSync(file)) {
    const run = await inThread();
    return { run: async (job) => run(job), close: async () => undefined, parallel: false };
  }
  const { Worker } = await import("node:worker_threads");
  const pool: InstanceType<typeof Worker>[] = [];
  const idle: InstanceType<typeof Worker>[] = [];
  const waiting: { job: J; transfer?: ArrayBuffer[]; resolve: (r: R) => void }[] = [];
  const pending = new Map<number, (r: R) => void>();
  const dispatch = () => {
    while (idle.length > 0 && waiting.length > 0) {
      const w = idle.pop()!;
      const { job, transfer, resolve } = waiting.shift()!;
      pending.set(job.id, resolve);
      w.postMessage(job, transfer ?? []);
    }
  };
  let failure: Error | null = null;
  for (let i = 0; i < workers; i++) {
    // A small young generation: workers hold little but the buffers they are handed, and each one adds its heap to RSS.
    const w = new Worker(file, { resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    w.unref();
    w.on("message", (reply: R) => {
      pending.get(reply.id)?.(reply);
      pending.delete(reply.id);
      idle.push(w);
      dispatch();
    });
    w.on("error", (err) => {
      failure = err;
      for (const [id, resolve] of pending) resolve(failed(id, err));
      pending.clear();
    });
    pool.push(w);
    idle.push(w);
  }
  return {
    parallel: true,
    run: (job, transfer) =>
      failure
        ? Promise.reject(failure)
        : new Promise((resolve) => {
            waiting.push({ job, transfer, resolve });
            dispatch();
          }),
    close: async () => {
      await Promise.all(pool.map((w) => w.terminate()));
    },
  };
}
