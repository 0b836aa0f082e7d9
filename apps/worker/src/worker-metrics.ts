import { Counter, Histogram, type Registry } from 'prom-client';

/** The seed's hop latency (a node's completion, or the run request, to the next node's worker picking it up). */
export class WorkerMetrics {
  readonly hopLatency: Histogram<'from_type' | 'to_type'>;
  readonly taskDuration: Histogram<'type' | 'status'>;
  /** What agent nodes cost: the provider bills by token. Models come from definitions, a small set per deployment. */
  readonly agentTokens: Counter<'model' | 'kind'>;

  constructor(registry: Registry) {
    this.hopLatency = new Histogram({
      name: 'hop_latency_ms',
      help: 'From the completion that made a node ready (or the run request) to a worker starting it, in ms',
      labelNames: ['from_type', 'to_type'],
      // Fine below 30 ms, where an idle hop lies (a few ms of Kafka and a coordinator step); up to 5 s under load.
      buckets: [1, 2, 3, 5, 7.5, 10, 15, 20, 30, 50, 100, 250, 500, 1000, 2500, 5000],
      registers: [registry],
    });
    this.taskDuration = new Histogram({
      name: 'node_task_duration_seconds',
      help: 'Time a worker spent executing one node attempt',
      labelNames: ['type', 'status'],
      buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers: [registry],
    });
    this.agentTokens = new Counter({
      name: 'agent_tokens_total',
      help: 'Tokens agent nodes used, by model (as the provider named it) and kind (prompt, completion)',
      labelNames: ['model', 'kind'],
      registers: [registry],
    });
  }
}
