export interface HealthAnswer {
  /** When the request was sent. */
  readonly at: number;
  /** When its answer (or error) arrived: the server's probe ran somewhere between the two. */
  readonly answeredAt: number;
  readonly status: number | 'error';
  /** The checks the answer names as failing (DependencyChecks' names). */
  readonly failing: readonly string[];
}

/** Asks `/health` every `everyMs` until stopped, keeping every answer with the checks it named as failing. */
export function probeHealth(url: string, everyMs = 250): { answers: HealthAnswer[]; stop(): Promise<void> } {
  const answers: HealthAnswer[] = [];
  let stopping = false;
  const loop = (async () => {
    while (!stopping) {
      const at = Date.now();
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(5_000) });
        const body = (await response.json()) as { checks?: Record<string, { ok: boolean }> };
        const failing = Object.entries(body.checks ?? {})
          .filter(([, check]) => !check.ok)
          .map(([name]) => name);
        answers.push({ at, answeredAt: Date.now(), status: response.status, failing });
      } catch {
        answers.push({ at, answeredAt: Date.now(), status: 'error', failing: [] });
      }
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
  })();
  return {
    answers,
    stop: async () => {
      stopping = true;
      await loop;
    },
  };
}
