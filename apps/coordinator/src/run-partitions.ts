import type { Logger } from 'pino';
import type { RunStateRecord } from '#libs/events';
import { openProducer, type Kafka, type Producer } from '#libs/kafka';
import { PartitionLost, transactionGroupOf } from '#libs/messaging';
import { isTerminal } from '#libs/runs';
import { fromStateRecord, type OwnedRun } from './owned-run.js';
import type { PendingTransaction } from './pending-transaction.js';

/**
 * The runs of one transaction group of input partition numbers (the same numbers of run.requested, node.completed,
 * run.control and run.state), held by this coordinator, and the transactional producer that writes for them in one
 * transaction per batch. The producer's transactional id is that of the group's lowest partition, and belongs to the
 * partitions, not to the process: whoever owns them next opens a producer with the same id, which fences this one
 * (pre-KIP-447 zombie fencing, as kafkajs sends no group metadata with its offsets).
 */
export class OwnedGroup {
  readonly runs = new Map<string, OwnedRun>();
  /** Runs that ended, by when: kept a while so a late duplicate of their run.requested cannot start them again. */
  readonly finished = new Map<string, number>();
  /** Set when the producer was fenced: another member owns the partitions now. */
  lost = false;
  /**
   * Set when a transaction failed: the runs in memory are ahead of the log, so nothing more is written for this
   * group; a restored one replaces it (RunPartitions.recover).
   */
  broken = false;
  /** The group's latest transaction scheduled: the next one starts once it ended. */
  tail: Promise<void> = Promise.resolve();
  /** The transaction filling while `tail` runs; unset once it started. */
  filling: PendingTransaction | undefined;

  constructor(
    /** The group's partition numbers, lowest first. */
    readonly partitions: readonly number[],
    readonly producer: Producer,
    /** The assignment it was opened for (RunPartitions counts them). */
    readonly assignment: number,
  ) {}

  /** The partitions, for logs and errors. */
  get name(): string {
    return this.partitions.join(',');
  }
}

export interface RunPartitionsOptions {
  readonly kafka: Kafka;
  readonly logger: Logger;
  /** Transactional ids are `<prefix><partition>`. */
  readonly transactionalIdPrefix: string;
  /** Transaction groups: partition p is in group p mod this (coPartitionedAssigner deals them out whole). */
  readonly groups: number;
  /** Reads the changelog of the given partitions: each run's latest record. */
  readonly restore: (partitions: readonly number[]) => Promise<Map<number, Map<string, RunStateRecord>>>;
  /** How long a transaction may stay open before the broker aborts it. */
  readonly transactionTimeoutMs: number;
  /** Reads a spilled field back from the run's workspace's content storage. */
  readonly unspill: (workspaceId: string, json: string, ref: string | null) => Promise<string>;
  /** Called with the unfinished runs restored, before any batch of theirs: their stored outputs must resolve. */
  readonly restored: (runs: readonly OwnedRun[]) => Promise<void>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A transaction that starts right after the previous one of its producer often finds the broker still writing that
 * one's markers (CONCURRENT_TRANSACTIONS), which kafkajs retries after its usual 100 ms backoff: that pause, on every
 * transaction, was most of a hop. Java's producer retries this case after 20 ms (KAFKA-5477); ours start at 2 ms and
 * stay short. Idempotent producers keep retrying without a count (kafkajs' default for them).
 */
export const TRANSACTION_RETRY = {
  initialRetryTime: 2,
  maxRetryTime: 250,
  multiplier: 1.5,
  retries: Number.MAX_SAFE_INTEGER,
};

/**
 * Which partitions this coordinator owns right now, in transaction groups, with their runs in memory. On every
 * assignment of the group it fences the transactional id of each owned partition (a group's producer is opened anew
 * with its lowest partition's id, the others' ids are fenced and let go, so whatever grouping wrote them last is
 * fenced too), then restores the partitions' runs from the changelog; batches wait until that is done. A group whose
 * producer is fenced later is lost: its batches are left to the new owner until the next assignment.
 */
export class RunPartitions {
  private owned = new Map<number, OwnedGroup>();
  private assignment: Promise<void> = Promise.resolve();
  private generation = 0;
  private closed = false;

  constructor(private readonly options: RunPartitionsOptions) {}

  /** Called on every group join with the partition numbers now owned. */
  assign(partitions: readonly number[]): void {
    const generation = ++this.generation;
    this.assignment = this.assignment.then(() => this.reassign(partitions, generation));
  }

  /** The transaction group of a partition number: batches of one group are written together. */
  groupOf(partition: number): number {
    return transactionGroupOf(partition, this.options.groups);
  }

  /** The group holding the partition, once restored; throws PartitionLost if this member does not own it (any more). */
  async get(partition: number): Promise<OwnedGroup> {
    await this.assignment;
    const owned = this.owned.get(partition);
    if (!owned || owned.lost) throw new PartitionLost(`partition ${partition} is not owned by this coordinator`);
    return owned;
  }

  /** Whether the group was opened for the latest assignment (a recovery keeps it; a new assignment does not). */
  isCurrent(group: OwnedGroup): boolean {
    return group.assignment === this.generation;
  }

  /** How many runs are held in memory, over all owned partitions. */
  get runCount(): number {
    let n = 0;
    for (const group of this.groups()) n += group.runs.size;
    return n;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.assignment;
    const all = this.groups();
    this.owned = new Map();
    await Promise.all(all.map((p) => p.producer.disconnect().catch(() => undefined)));
  }

  /**
   * A transaction of the group failed for another reason than fencing (a timeout, a broker gone mid-commit): its
   * producer may be stuck mid-transaction and the outcome is unknown, so the group is opened anew, fenced and
   * restored from the changelog. Batches wait for it.
   */
  recover(broken: OwnedGroup): void {
    const generation = this.generation;
    this.assignment = this.assignment.then(async () => {
      if (broken.partitions.some((p) => this.owned.get(p) !== broken)) return;
      for (const p of broken.partitions) this.owned.delete(p);
      await broken.producer.disconnect().catch(() => undefined);
      for (const reopened of await this.open(broken.partitions, generation)) {
        for (const p of reopened.partitions) this.owned.set(p, reopened);
      }
    });
  }

  private groups(): OwnedGroup[] {
    return [...new Set(this.owned.values())];
  }

  private async reassign(partitions: readonly number[], generation: number): Promise<void> {
    const previous = this.groups();
    this.owned = new Map();
    await Promise.all(previous.map((p) => p.producer.disconnect().catch(() => undefined)));
    const opened = await this.open(partitions, generation);
    this.owned = new Map(opened.flatMap((group) => group.partitions.map((p) => [p, group] as const)));
  }

  private producerFor(partition: number, role: string): Producer {
    return openProducer(this.options.kafka, role, {
      transactionalId: `${this.options.transactionalIdPrefix}${partition}`,
      idempotent: true,
      maxInFlightRequests: 1,
      transactionTimeout: this.options.transactionTimeoutMs,
      retry: TRANSACTION_RETRY,
    });
  }

  /** Fences the partitions' transactional ids and restores their runs; retried until done or superseded. */
  private async open(partitions: readonly number[], generation: number): Promise<OwnedGroup[]> {
    // Each group's partitions, lowest first: the first names the group's transactional id.
    const byGroup = Map.groupBy(
      [...partitions].sort((a, b) => a - b),
      (p) => this.groupOf(p),
    );
    for (let attempt = 1; !this.closed && generation === this.generation; attempt++) {
      const started = performance.now();
      const opened: OwnedGroup[] = [];
      try {
        const fencers: Producer[] = [];
        for (const [lowest, ...others] of byGroup.values() as MapIterator<[number, ...number[]]>) {
          opened.push(
            new OwnedGroup([lowest, ...others], this.producerFor(lowest, `coordinator p${lowest}`), generation),
          );
          for (const other of others) fencers.push(this.producerFor(other, `coordinator fence p${other}`));
        }
        try {
          await Promise.all([...opened.map((p) => fence(p.producer)), ...fencers.map(fence)]);
        } finally {
          await Promise.all(fencers.map((f) => f.disconnect().catch(() => undefined)));
        }
        const records = await this.options.restore(partitions);
        let runs = 0;
        for (const group of opened) {
          for (const partition of group.partitions) {
            for (const record of records.get(partition)?.values() ?? []) {
              const run = await fromStateRecord(record, (json, ref) =>
                this.options.unspill(record.workspaceId, json, ref),
              );
              if (isTerminal(run.state.status)) group.finished.set(run.id, record.occurredAt);
              else group.runs.set(run.id, run);
            }
          }
          runs += group.runs.size;
        }
        await this.options.restored(opened.flatMap((p) => [...p.runs.values()]));
        if (generation !== this.generation || this.closed) throw new Error('superseded by a newer assignment');
        this.options.logger.info(
          { partitions, groups: opened.map((g) => g.name), runs, ms: Math.round(performance.now() - started) },
          'coordinator partitions fenced and restored',
        );
        return opened;
      } catch (error) {
        await Promise.all(opened.map((p) => p.producer.disconnect().catch(() => undefined)));
        if (generation !== this.generation || this.closed) return [];
        this.options.logger.warn({ err: error, partitions, attempt }, 'restoring partitions failed; retrying');
        await sleep(Math.min(5_000, 200 * 2 ** Math.min(attempt, 5)));
      }
    }
    return [];
  }
}

/** Opening a transaction registers the transactional id, which fences every older producer of it and ends its open transaction. */
async function fence(producer: Producer): Promise<void> {
  await producer.connect();
  const transaction = await producer.transaction();
  await transaction.abort();
}

/** The broker refused a transactional producer because a newer one with its id exists. */
export function isFenced(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const type = (e as { type?: unknown }).type;
    if (type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED') return true;
    e = (e as { cause?: unknown; originalError?: unknown }).cause ?? (e as { originalError?: unknown }).originalError;
  }
  return false;
}
