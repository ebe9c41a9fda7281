// Virtual time for tests and local runs: waits of minutes pass in milliseconds, through the client's injected Clock.
import type { Clock } from "do-image/internal";

/** Time running `1 / scale` times faster than real time: sleep(60_000) at scale 0.001 takes 60 ms. */
export function scaledClock(scale: number): Clock {
  const start = Date.now();
  return {
    now: () => start + (Date.now() - start) / scale,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms * scale))),
  };
}
