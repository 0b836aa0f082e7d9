import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { TimeoutMiddleware } from 'mappersmith/middleware/timeout';
import type { TopicSpec } from '#libs/kafka';
import type { SchemaFile } from './avro-to-typescript.js';
import type { EventsBySchema, SchemaName } from './generated/event-types.js';

export class UnknownTopicSchema extends Error {
  override readonly name = 'UnknownTopicSchema';
}

/** A decoded value that does not have the shape of the event its consumer expects. */
export class InvalidEvent extends Error {
  override readonly name = 'InvalidEvent';
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

/**
 * Encodes events in the Confluent wire format (magic byte, schema id, Avro body) against the schemas registered for
 * their topics, and decodes any message whose schema the registry knows. Decoded values are `unknown`: a consumer
 * validates them before trusting their shape.
 */
export class EventCodec {
  private readonly schemaIds = new Map<string, number>();
  private readonly readers: Map<string, avro.Type>;

  constructor(
    private readonly registry: SchemaRegistry,
    private readonly topics: readonly TopicSpec[],
    private readonly schemas: readonly SchemaFile[],
  ) {
    this.readers = new Map(schemas.map((s) => [s.name, avro.Type.forSchema(s.schema as avro.Schema)]));
  }

  /**
   * Registers the value schema of every topic that has one, with BACKWARD compatibility, and remembers the ids.
   * Registering an unchanged schema returns its existing id; an incompatible change is refused by the registry.
   */
  async registerAll(): Promise<{ subject: string; id: number }[]> {
    const byName = new Map(this.schemas.map((s) => [s.name, s.schema]));
    const registered: { subject: string; id: number }[] = [];
    for (const topic of this.topics) {
      if (!topic.valueSchema) continue;
      const schema = byName.get(topic.valueSchema);
      if (!schema) throw new UnknownTopicSchema(`${topic.name}: no schemas/${topic.valueSchema}.avsc`);
      const subject = valueSubject(topic.name);
      const register = () =>
        this.registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
          { subject, compatibility: COMPATIBILITY.BACKWARD },
        );
      const { id } = await registerWithRetries(register);
      this.schemaIds.set(topic.name, id);
      registered.push({ subject, id });
    }
    return registered;
  }

  /** For producers that did not register: the latest registered schema of each topic they write. */
  async loadLatest(topicNames: readonly string[]): Promise<void> {
    for (const name of topicNames) {
      this.schemaIds.set(name, await this.registry.getLatestSchemaId(valueSubject(name)));
    }
  }

  async encode<S extends SchemaName>(schema: S, topic: string, event: EventsBySchema[S]): Promise<Buffer> {
    const spec = this.topics.find((t) => t.name === topic);
    if (spec?.valueSchema !== schema) {
      throw new UnknownTopicSchema(`topic ${topic} does not carry ${schema} events`);
    }
    const id = this.schemaIds.get(topic) ?? (await this.registry.getLatestSchemaId(valueSubject(topic)));
    this.schemaIds.set(topic, id);
    return this.registry.encode(id, event);
  }

  async decode(message: Buffer): Promise<unknown> {
    return (await this.registry.decode(message)) as unknown;
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
