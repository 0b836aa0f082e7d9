import { createSchemaRegistry, EventCodec, readSchemaFiles, TopicNames } from '#libs/events';
import { openAdmin, readTopic, type Kafka } from '#libs/kafka';

interface ChangelogEntry {
  readonly partition: number;
  readonly offset: string;
  readonly seq: number | null;
  readonly eventSeq: number | null;
  readonly status: string | null;
  /** The record batch it came in: producer epoch and first sequence tell a re-sent batch from a new transaction. */
  readonly batch: string;
}

const batchOf = (message: unknown): string => {
  const context = (
    message as { batchContext?: { producerEpoch?: number; firstSequence?: number; firstOffset?: string } }
  ).batchContext;
  return context ? `e${context.producerEpoch}s${context.firstSequence}o${context.firstOffset}` : '?';
};

/**
 * What is wrong with the runs' changelog (run.state, read committed): a coordinator writes each run's transitions as
 * records numbered 1..n, each number once, in offset order, and a record's state never has fewer events than the one
 * before. A second record under a number already written is a transition made from a state that missed a committed
 * one (a restore that did not see it): the projection can hide that, this cannot.
 */
export async function changelogAnomalies(
  kafka: Kafka,
  options: { prefix: string; registryUrl: string; runIds: readonly string[] },
): Promise<string[]> {
  const names = new TopicNames(options.prefix);
  const codec = new EventCodec(createSchemaRegistry(options.registryUrl), names, await readSchemaFiles());
  const wanted = new Set(options.runIds);
  const byRun = new Map<string, ChangelogEntry[]>();
  const admin = openAdmin(kafka, 'changelog-check');
  await admin.connect();
  try {
    await readTopic(kafka, admin, names.of('run.state'), {
      fromBeginning: true,
      untilEnd: true,
      // The end offset of a transactional topic lies past its last commit marker, which is never a message.
      idleMs: 3_000,
      onMessage: async (message, partition) => {
        const runId = message.key?.toString();
        if (!runId || !wanted.has(runId)) return;
        const entries = byRun.get(runId) ?? [];
        byRun.set(runId, entries);
        if (!message.value) {
          entries.push({
            partition,
            offset: message.offset,
            seq: null,
            eventSeq: null,
            status: null,
            batch: batchOf(message),
          });
          return;
        }
        const record = await codec.decodeAs('run.state', message.value);
        const state = record.stateRef ? null : (JSON.parse(record.stateJson) as { eventSeq: number; status: string });
        entries.push({
          partition,
          offset: message.offset,
          seq: record.seq,
          eventSeq: state?.eventSeq ?? null,
          status: state?.status ?? null,
          batch: batchOf(message),
        });
      },
    });
  } finally {
    await admin.disconnect();
  }
  const problems: string[] = [];
  const unseen = options.runIds.filter((id) => !byRun.has(id));
  if (unseen.length) problems.push(`${unseen.length} runs without changelog records (first: ${unseen[0]})`);
  for (const [runId, entries] of byRun) {
    const records = entries.filter((e) => e.seq !== null);
    const broken = records.some(
      (e, i) => e.seq !== i + 1 || (i > 0 && e.eventSeq !== null && (records[i - 1]?.eventSeq ?? 0) > e.eventSeq),
    );
    if (broken) {
      const trail = entries
        .map(
          (e) =>
            `p${e.partition}@${e.offset}[${e.batch}]:${e.seq === null ? 'tombstone' : `v${e.seq} e${e.eventSeq} ${e.status}`}`,
        )
        .join(' ');
      problems.push(`run ${runId}: changelog records not numbered 1..n: ${trail}`);
    }
  }
  return problems;
}
