import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';
import type { SchemaFile } from './avro-to-typescript.js';
import type { EventsBySchema, SchemaName } from './generated/event-types.js';
import { EVENT_TOPICS, topicContract, type EventOf, type EventTopic, type TopicNames } from './topic-contract.js';
import { WireEncoder } from './wire-encoder.js';

export class UnknownTopicSchema extends Error {
  override readonly name = 'UnknownTopicSchema';
}

/** A decoded value that does not have the shape of the event its consumer expects. */
export class InvalidEvent extends Error {
  override readonly name = 'InvalidEvent';
}

/**
 * The registry did not answer (a timeout, a refused connection, a 5xx): not the message's fault, so consumers retry
 * instead of dead-lettering. `retriable` is the flag kafkajs errors carry too, which the consumer transport checks.
 */
export class RegistryUnavailable extends Error {
  override readonly name = 'RegistryUnavailable';
  readonly retriable = true;
}

/**
 * Whether a registry client error says the registry is out of reach rather than that the schema id is unknown. The
 * client reports transport failures (timeouts, refused connections) as responses of status 400 or 408; a registry
 * that answers says 404 for an id it does not have, and the value's own faults (magic byte, Avro body) are no
 * response at all.
 */
function isRegistryOutage(error: unknown): boolean {
  const { name, status } = (error ?? {}) as { name?: unknown; status?: unknown };
  if (name !== 'ResponseError' || typeof status !== 'number') return false;
  return status !== 404 && status !== 422;
}

/** Confluent's TopicNameStrategy: the value schema of topic T lives under subject `T-value`. */
export const valueSubject = (topic: string): string => `${topic}-value`;

/** Soft- then hard-deletes the subjects whose names start with the prefix (the Confluent API needs both steps). */
export async function deleteSubjects(registryUrl: string, prefix: string): Promise<void> {
  const response = await fetch(`${registryUrl}/subjects`);
  if (!response.ok) throw new Error(`listing registry subjects: HTTP ${response.status}`);
  const subjects = ((await response.json()) as string[]).filter((s) => s.startsWith(prefix));
  for (const subject of subjects) {
    const url = `${registryUrl}/subjects/${encodeURIComponent(subject)}`;
    await fetch(url, { method: 'DELETE' });
    await fetch(`${url}?permanent=true`, { method: 'DELETE' });
  }
}

/**
 * The registry client waits forever for an answer by default: a registry that took a request and never answered
 * (seen once here, mid-registration) held a service's start-up, and a test, until killed. Every call now gives up.
 */
export const REGISTRY_REQUEST_TIMEOUT_MS = 10_000;

export function createSchemaRegistry(url: string, timeoutMs = REGISTRY_REQUEST_TIMEOUT_MS): SchemaRegistry {
  return new SchemaRegistry({
    host: url,
    clientId: 'orchestrator',
    retry: { retries: 3 },
    // The ESM build's middleware type differs from the CommonJS one the client names; the function is the same.
    middlewares: [TimeoutMiddleware(timeoutMs) as unknown as RegistryMiddleware],
  });
}

type RegistryMiddleware = NonNullable<ConstructorParameters<typeof SchemaRegistry>[0]['middlewares']>[number];

/** How often one subject's registration is tried when the registry times out or loses a race. */
const REGISTER_ATTEMPTS = 3;

/** An encoded event as kafkajs sends it. */
export interface EncodedMessage {
  readonly key: string;
  readonly value: Buffer;
  readonly headers?: Record<string, string>;
}

/** An encoded event as the transactional outbox stores it (libs/outbox OutboxRow). */
export interface EncodedOutboxRow {
  readonly topic: string;
  readonly key: string;
  readonly eventType: string;
  readonly payload: Buffer;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Encodes events in the Confluent wire format (magic byte, schema id, Avro body) against the schemas registered for
 * their topics, and decodes any message whose schema the registry knows. Callers name the logical topic; its full name
 * and schema come from the event contract, and the event's type is checked against the topic at compile time.
 * Decoded values are `unknown` until checked against the reader schema (`decodeAs`, `parse`).
 */
export class EventCodec {
  private readonly schemaIds = new Map<string, number>();
  /** By full topic name; dropped when its schema id changes (registerAll). */
  private readonly encoders = new Map<string, WireEncoder>();
  private readonly readers: Map<string, avro.Type>;

  constructor(
    private readonly registry: SchemaRegistry,
    readonly names: TopicNames,
    private readonly schemas: readonly SchemaFile[],
  ) {
    this.readers = new Map(schemas.map((s) => [s.name, avro.Type.forSchema(s.schema as avro.Schema)]));
  }

  /**
   * Registers the value schema of every event topic, with BACKWARD compatibility, and remembers the ids. Registering
   * an unchanged schema returns its existing id; an incompatible change is refused by the registry.
   */
  async registerAll(): Promise<{ subject: string; id: number }[]> {
    const byName = new Map(this.schemas.map((s) => [s.name, s.schema]));
    const registered: { subject: string; id: number }[] = [];
    for (const topic of EVENT_TOPICS) {
      const { schema: schemaName } = topicContract(topic);
      const schema = byName.get(schemaName);
      const name = this.names.of(topic);
      if (!schema) throw new UnknownTopicSchema(`${name}: no schemas/${schemaName}.avsc`);
      const subject = valueSubject(name);
      const register = () =>
        this.registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
        );
      const { id } = await registerWithRetries(register);
      if (this.encoders.get(name)?.schemaId !== id) this.encoders.delete(name);
      this.schemaIds.set(name, id);
      registered.push({ subject, id });
    }
    return registered;
  }

  async encode<T extends EventTopic>(topic: T, event: EventOf<T>): Promise<Buffer> {
    const name = this.names.of(topic);
    const encoder = this.encoders.get(name) ?? (await this.encoderOf(name));
    try {
      return encoder.encode(event);
    } catch {
      // An event the schema does not fit: the registry client says where (its named validation error, as before).
      return this.registry.encode(encoder.schemaId, event);
    }
  }

  /** The topic's encoder, with the writer schema the registry holds under the topic's schema id. */
  private async encoderOf(name: string): Promise<WireEncoder> {
    const id = this.schemaIds.get(name) ?? (await this.registry.getLatestSchemaId(valueSubject(name)));
    this.schemaIds.set(name, id);
    const writer = (await this.registry.getSchema(id)) as unknown as Partial<avro.Type>;
    if (typeof writer.encode !== 'function') throw new UnknownTopicSchema(`${name}: schema ${id} is not Avro`);
    const encoder = new WireEncoder(id, writer as avro.Type);
    this.encoders.set(name, encoder);
    return encoder;
  }

  /** The event as a kafkajs message of its topic, keyed by the id whose order matters. */
  async message<T extends EventTopic>(
    topic: T,
    key: string,
    event: EventOf<T>,
    headers?: Readonly<Record<string, string>>,
  ): Promise<EncodedMessage> {
    return { key, value: await this.encode(topic, event), ...(headers ? { headers: { ...headers } } : {}) };
  }

  /** The event as a row of the transactional outbox. */
  async outboxRow<T extends EventTopic>(
    topic: T,
    key: string,
    event: EventOf<T>,
    headers?: Readonly<Record<string, string>>,
  ): Promise<EncodedOutboxRow> {
    return {
      topic: this.names.of(topic),
      key,
      eventType: event.type,
      payload: await this.encode(topic, event),
      ...(headers ? { headers } : {}),
    };
  }

  async decode(message: Buffer): Promise<unknown> {
    try {
      return (await this.registry.decode(message)) as unknown;
    } catch (error) {
      if (!isRegistryOutage(error)) throw error;
      throw new RegistryUnavailable(`schema registry unavailable: ${(error as Error).message}`, { cause: error });
    }
  }

  /** Decodes a message of the topic and checks it against the topic's (reader) schema. */
  async decodeAs<T extends EventTopic>(topic: T, message: Buffer): Promise<EventOf<T>> {
    return this.parse(topicContract(topic).schema, await this.decode(message));
  }

  /** Checks a decoded value against this service's own (reader) schema before anything trusts its shape. */
  parse<S extends SchemaName>(schema: S, value: unknown): EventsBySchema[S] {
    const reader = this.readers.get(schema);
    if (!reader) throw new UnknownTopicSchema(`no schema ${schema}`);
    const problems: string[] = [];
    reader.isValid(value, { errorHook: (path) => problems.push(path.join('.') || '(root)') });
    if (problems.length) throw new InvalidEvent(`not a valid ${schema} event: bad ${problems.slice(0, 5).join(', ')}`);
    return value as EventsBySchema[S];
  }
}

/**
 * Registering the same schema again is idempotent (the registry answers the existing id), so two failures are worth
 * another try: a timeout (the first request may or may not have landed), and "rule already exists", which the loser
 * gets when two services starting together on a new subject both create its compatibility rule (it is there now).
 */
async function registerWithRetries<T>(register: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await register();
    } catch (error) {
      const retriable = /already exists|timeout/i.test((error as Error).message);
      if (!retriable || attempt >= REGISTER_ATTEMPTS) throw error;
    }
  }
}
