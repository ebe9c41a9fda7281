// Keeps one process under DigitalOcean's documented limits (250 requests a minute, 5,000 an hour), shared by all clients.
import { realClock, type Clock } from "./clock";

export interface RateLimits {
  perMinute: number;
  perHour: number;
}

export const DOCUMENTED_LIMITS: Readonly<RateLimits> = Object.freeze({ perMinute: 250, perHour: 5000 });

export class RateLimiter {
  private readonly sent: number[] = [];

  constructor(
    private readonly limits: RateLimits = DOCUMENTED_LIMITS,
    private readonly clock: Clock = realClock,
  ) {}

  /** Waits until a request may be sent within both windows, then counts it. */
  async acquire(): Promise<void> {
    for (;;) {
      const t = this.clock.now();
      while (this.sent.length > 0 && this.sent[0] <= t - 3_600_000) this.sent.shift();
      let inMinute = 0;
      for (let i = this.sent.length - 1; i >= 0 && this.sent[i] > t - 60_000; i--) inMinute++;
      if (inMinute < this.limits.perMinute && this.sent.length < this.limits.perHour) {
        this.sent.push(t);
        return;
      }
      // Wait until the oldest request in the full window leaves it.
      const until = inMinute >= this.limits.perMinute ? this.sent[this.sent.length - inMinute] + 60_000 : this.sent[0] + 3_600_000;
      await this.clock.sleep(Math.max(1, until - t));
    }
  }
}

/** The limiter every real-clock client in this process shares. */
export const sharedLimiter = new RateLimiter();
