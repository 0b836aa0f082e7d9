/**
 * A process-wide ledger of connections this code opened and has not closed yet (Kafka clients, pools, Redis).
 * Factories record what they open; shutdown and the test harness read it, so a forgotten `disconnect()`
 * shows up by name instead of as a process that never exits.
 */
export interface OpenResource {
  readonly kind: 'kafka-producer' | 'kafka-consumer' | 'kafka-admin' | 'pg-pool' | 'pg-client' | 'redis' | 's3-client';
  readonly name: string;
  readonly openedAt: Date;
  readonly stack: string | undefined;
}

const open = new Map<symbol, OpenResource>();

/** Records an opened resource; call the returned function once it is closed. */
export function trackResource(kind: OpenResource['kind'], name: string): () => void {
  const id = Symbol(name);
  open.set(id, { kind, name, openedAt: new Date(), stack: new Error().stack?.split('\n').slice(2, 6).join('\n') });
  return () => {
    open.delete(id);
  };
}

export function openResources(): OpenResource[] {
  return [...open.values()];
}

export function describeOpenResources(resources: OpenResource[] = openResources()): string {
  return resources
    .map((r) => `- ${r.kind} "${r.name}" opened at ${r.openedAt.toISOString()}\n${r.stack ?? ''}`)
    .join('\n');
}
