// Time as the client sees it: the real clock, or a scaled one on which tests wait minutes in milliseconds.

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const realClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Virtual time running `1 / scale` times faster than real time: sleep(60_000) at scale 0.001 takes 60 ms. */
export function scaledClock(scale: number): Clock {
  if (scale === 1) return realClock;
  const start = Date.now();
  return {
    now: () => start + (Date.now() - start) / scale,
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms * scale))),
  };
}
