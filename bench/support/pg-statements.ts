import pg from 'pg';
import { Gauge, type Registry } from 'prom-client';

/**
 * Statement accounting for the benchmark's service process (pg_stat_statements needs a server restart to load, so the
 * counting happens client-side): every `Client.query` of the process, pool or dedicated client, counted by a label
 * made of its verb and first table, with the time from the call to its answer. Only `bench/service.main.ts` turns
 * this on; the platform itself is not changed.
 */
const counts = new Map<string, { count: number; seconds: number }>();
const labels = new Map<string, string>();

const TABLE: Partial<Record<string, RegExp>> = {
  INSERT: /^INSERT\s+INTO\s+([\w.]+)/i,
  UPDATE: /^UPDATE\s+([\w.]+)/i,
  DELETE: /^DELETE\s+FROM\s+([\w.]+)/i,
  SELECT: /\bFROM\s+([\w.]+)/i,
  WITH: /\bFROM\s+([\w.]+)/i,
};

/** "UPDATE runs", "INSERT INTO outbox" → "INSERT outbox", "COMMIT"; otherwise the statement's first 40 characters. */
export function statementLabel(text: string): string {
  const statement = text.trim().replace(/\s+/g, ' ');
  const verb = (/^\w+/.exec(statement)?.[0] ?? '?').toUpperCase();
  // extract(epoch FROM x) is no table.
  const table = TABLE[verb]?.exec(statement.replace(/\bextract\s*\(\s*\w+\s+FROM\b/gi, ''))?.[1];
  if (table) return `${verb} ${table}`;
  return /^(BEGIN|COMMIT|ROLLBACK|LISTEN|UNLISTEN)\b/i.test(statement) ? verb : statement.slice(0, 40);
}

function labelOf(text: string): string {
  let label = labels.get(text);
  if (label === undefined) {
    label = statementLabel(text);
    if (labels.size < 10_000) labels.set(text, label);
  }
  return label;
}

function record(label: string, ms: number): void {
  const entry = counts.get(label);
  if (entry) {
    entry.count++;
    entry.seconds += ms / 1000;
  } else counts.set(label, { count: 1, seconds: ms / 1000 });
}

let installed = false;

/** Wraps pg's Client.prototype.query (callback, promise and submittable forms) to count every statement. */
export function countStatements(): void {
  if (installed) return;
  installed = true;
  type Query = (this: unknown, ...args: unknown[]) => unknown;
  const prototype = pg.Client.prototype as unknown as { query: Query };
  const original = prototype.query;
  prototype.query = function (this: unknown, ...args: unknown[]): unknown {
    const first = args[0];
    const text = typeof first === 'string' ? first : (first as { text?: unknown } | null | undefined)?.text;
    if (typeof text !== 'string') return original.apply(this, args);
    const label = labelOf(text);
    const started = performance.now();
    const done = () => record(label, performance.now() - started);
    const last = args.length > 1 ? args[args.length - 1] : undefined;
    if (typeof last === 'function') {
      args[args.length - 1] = function (this: unknown, ...results: unknown[]): unknown {
        done();
        return (last as Query).apply(this, results);
      };
      return original.apply(this, args);
    }
    const result = original.apply(this, args);
    if (result instanceof Promise) result.then(done, done);
    else record(label, 0);
    return result;
  };
}

/** Exposes the counts on the service's /metrics: bench_pg_statements{statement} and bench_pg_statement_seconds. */
export function registerStatementMetrics(registry: Registry): void {
  const statements: Gauge<'statement'> = new Gauge({
    name: 'bench_pg_statements',
    help: 'SQL statements sent by this process since it started, by verb and first table (benchmark instrumentation)',
    labelNames: ['statement'],
    registers: [registry],
    collect: () => {
      for (const [statement, entry] of counts) statements.set({ statement }, entry.count);
    },
  });
  const seconds: Gauge<'statement'> = new Gauge({
    name: 'bench_pg_statement_seconds',
    help: 'Client-side time from sending each statement to its answer, summed (benchmark instrumentation)',
    labelNames: ['statement'],
    registers: [registry],
    collect: () => {
      for (const [statement, entry] of counts) seconds.set({ statement }, entry.seconds);
    },
  });
}
