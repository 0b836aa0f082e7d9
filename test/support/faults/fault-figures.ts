import type { HealthAnswer } from './health-probe.js';
import type { MixedLoad } from './mixed-load.js';

/** The times of one fault, in epoch ms. */
export interface FaultTimes {
  /** When the dependency was told to go down. */
  readonly stopping: number;
  /** When it was down. */
  readonly injected: number;
  /** When the dependency was started again. */
  readonly restoring: number;
  /** When it answered again. */
  readonly restored: number;
  /** When every accepted run had ended and every accepted patch was decided. */
  readonly drained: number;
}

export interface FaultFigures {
  readonly fault: string;
  readonly outageMs: number;
  readonly accepted: { runs: number; patches: number; duringOutage: number };
  /** Refused POST attempts (each retry counts) by status, while down and after it was back. */
  readonly refused: Record<string, number>;
  readonly health: Record<string, number>;
  /** From the dependency answering again to: the first accepted POST, /health 200, every request done. */
  readonly recoveryMs: { firstAccepted: number | null; healthy: number | null; drained: number };
}

const tally = (keys: readonly string[]) =>
  keys.reduce<Record<string, number>>((counts, key) => ({ ...counts, [key]: (counts[key] ?? 0) + 1 }), {});

export function faultFigures(
  fault: string,
  times: FaultTimes,
  load: MixedLoad,
  health: readonly HealthAnswer[],
): FaultFigures {
  const acceptedAt = [...load.runs, ...load.patches].map((a) => a.at);
  const firstAccepted = acceptedAt.filter((at) => at >= times.restored).sort((a, b) => a - b)[0];
  const healthy = health.find((h) => h.at >= times.restored && h.status === 200);
  return {
    fault,
    outageMs: times.restored - times.injected,
    accepted: {
      runs: load.runs.length,
      patches: load.patches.length,
      duringOutage: acceptedAt.filter((at) => at >= times.stopping && at < times.restored).length,
    },
    refused: tally(load.refusals.map((r) => `${r.what} ${r.status}`)),
    health: tally(
      health
        .filter((h) => h.at >= times.injected && h.answeredAt < times.restoring)
        .map((h) => `${h.status}${h.failing.length ? ` ${h.failing.join('+')}` : ''}`),
    ),
    recoveryMs: {
      firstAccepted: firstAccepted === undefined ? null : firstAccepted - times.restored,
      healthy: healthy ? healthy.at - times.restored : null,
      drained: times.drained - times.restored,
    },
  };
}
