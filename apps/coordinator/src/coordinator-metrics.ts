import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Effect, RunState } from '#libs/runs';
import type { RunTagLabels } from './run-tag-labels.js';

/** The run side of DESIGN §6: starts by tag, node executions by type and outcome, run ends and batch timings. */
export class CoordinatorMetrics {
  /** Applying a write's batches to the runs in memory; its transaction commits later (`transactionDuration`). */
  readonly batchDuration: Histogram;
  /** Kafka transactions committed: one per group write, carrying every batch applied while the one before it ran. */
  readonly transactions: Counter;
  /** From beginning a transaction to its commit (the waiting for the one before it not counted). */
  readonly transactionDuration: Histogram;
  /** Runs failed with RunTooLarge (outcome failed), or whose transition was dropped as even that was too large. */
  readonly runsTooLarge: Counter<'outcome'>;
  private readonly started: Counter<'tag'>;
  private readonly executions: Counter<'type' | 'status'>;
  private readonly finished: Counter<'status'>;
  private readonly runDuration: Histogram<'status'>;

  constructor(
    registry: Registry,
    runsInMemory: () => number,
    private readonly tags: RunTagLabels,
  ) {
    this.transactions = new Counter({
      name: 'coordinator_transactions_total',
      help: 'Kafka transactions committed by the coordinator (each carries the batches applied while the one before it ran)',
      registers: [registry],
    });
    this.transactionDuration = new Histogram({
      name: 'coordinator_transaction_duration_seconds',
      help: 'From beginning a coordinator transaction (tasks, run events, changelog records) to its commit',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
    this.runsTooLarge = new Counter({
      name: 'coordinator_runs_too_large_total',
      help: 'Runs whose messages would exceed KAFKA_MESSAGE_MAX_BYTES: failed with RunTooLarge, or dropped if even that was too large',
      labelNames: ['outcome'],
      registers: [registry],
    });
    new Gauge({
      name: 'coordinator_runs_in_memory',
      help: 'Unfinished runs the coordinator holds for the partitions it owns',
      registers: [registry],
      collect() {
        this.set(runsInMemory());
      },
    });
    this.started = new Counter({
      name: 'workflows_started_total',
      help: 'Runs started, by their low-cardinality tag',
      labelNames: ['tag'],
      registers: [registry],
    });
    this.executions = new Counter({
      name: 'node_executions_total',
      help: 'Node attempts that ended, by node type and outcome',
      labelNames: ['type', 'status'],
      registers: [registry],
    });
    this.finished = new Counter({
      name: 'runs_finished_total',
      help: 'Runs that reached a terminal status',
      labelNames: ['status'],
      registers: [registry],
    });
    this.runDuration = new Histogram({
      name: 'run_duration_seconds',
      help: 'From run request to terminal status',
      labelNames: ['status'],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600],
      registers: [registry],
    });
    this.batchDuration = new Histogram({
      name: 'coordinator_batch_duration_seconds',
      help: 'Time to apply one write of run events to the runs in memory (its Kafka transaction commits later)',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1],
      registers: [registry],
    });
  }

  observe(
    run: { tag: string | null; requestedAt: number },
    state: RunState,
    effects: readonly Effect[],
    nodeType: (nodeId: string) => string,
  ): void {
    for (const e of effects) {
      if (e.type !== 'event') continue;
      if (e.kind === 'run.started') this.started.inc({ tag: this.tags.label(run.tag) });
      else if (e.nodeId && (e.kind === 'node.completed' || e.kind === 'node.failed' || e.kind === 'node.retrying')) {
        this.executions.inc({ type: nodeType(e.nodeId), status: e.status });
      } else if (e.kind === `run.${state.status}` && e.nodeId === undefined && isEnd(e.kind)) {
        this.finished.inc({ status: state.status });
        this.runDuration.observe({ status: state.status }, Math.max(0, Date.now() - run.requestedAt) / 1000);
      }
    }
  }
}

const isEnd = (kind: string) =>
  kind === 'run.completed' || kind === 'run.failed' || kind === 'run.cancelled' || kind === 'run.timed_out';
