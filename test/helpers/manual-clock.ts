/**
 * A clock tests move by hand (fakes read it at each call), and the contract suites' `eventually`
 * over it: poll, and move the clock 250 ms between polls instead of sleeping.
 */
export interface ManualClock {
  now(): Date;
  advance(ms: number): void;
  eventually<T>(what: string, get: () => Promise<T>, done: (v: T) => boolean): Promise<T>;
}

export function manualClock(start = Date.UTC(2026, 10, 21, 12)): ManualClock {
  let t = start;
  const advance = (ms: number): void => void (t += ms);
  return {
    now: () => new Date(t),
    advance,
    async eventually(what, get, done) {
      for (let i = 0; i < 10_000; i++) {
        const v = await get();
        if (done(v)) return v;
        advance(250);
      }
      throw new Error(`${what}: never happened`);
    },
  };
}
