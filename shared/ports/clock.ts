/** Time comes through this port so domain decisions stay pure and tests control `now`. */
export interface Clock {
  now(): Date;
}

export const systemClock: Clock = { now: () => new Date() };
