/**
 * Delay before attempt `nextAttempt` (2, 3, ...): exponential in the attempts already made, with "equal jitter"
 * (half fixed, half random) so retries of many runs failing together against one service do not arrive in lockstep,
 * yet never come sooner than half the nominal delay. Capped at an hour.
 */
export function retryDelayMs(backoffMs: number, nextAttempt: number, random: () => number): number {
  const nominal = Math.min(3_600_000, backoffMs * 2 ** Math.max(0, nextAttempt - 2));
  return Math.round(nominal / 2 + random() * (nominal / 2));
}
