import type { IHeaders, KafkaMessage, Producer } from '#libs/kafka';

export interface DeadLetter {
  readonly sourceTopic: string;
  readonly partition: number;
  readonly message: KafkaMessage;
  readonly error: string;
  readonly attempts: number;
}

/**
 * Sends poison messages to `<topic>.dlq` with the original key, value and headers untouched (so a redrive republishes
 * exactly what came in) and the reason in `dlq.*` headers. Awaited before the source offset is committed.
 */
export async function sendToDeadLetters(producer: Producer, letters: readonly DeadLetter[]): Promise<void> {
  if (!letters.length) return;
  const byTopic = new Map<string, { key: Buffer | null; value: Buffer | null; headers: IHeaders }[]>();
  for (const letter of letters) {
    const topic = `${letter.sourceTopic}.dlq`;
    const list = byTopic.get(topic) ?? [];
    list.push({
      key: letter.message.key,
      value: letter.message.value,
      headers: {
        ...letter.message.headers,
        'dlq.error': letter.error.slice(0, 2000),
        'dlq.source.topic': letter.sourceTopic,
        'dlq.source.partition': String(letter.partition),
        'dlq.source.offset': letter.message.offset,
        'dlq.attempts': String(letter.attempts),
        'dlq.failed-at': new Date().toISOString(),
      },
    });
    byTopic.set(topic, list);
  }
  await producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })) });
}
