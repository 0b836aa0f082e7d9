import type { QueryConfig } from 'pg';

/** A statement with a name: pg prepares it once per connection and then only binds and executes it. */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
  /** The query config for one execution (`client.query(statement.with(values))`). */
  with(values: readonly unknown[]): QueryConfig;
}

const textsByName = new Map<string, string>();

/**
 * A statement of the run path that Postgres parses and plans once per connection instead of on every execution: the
 * set-based `unnest` INSERTs and UPDATEs cost the server half their CPU in parse and plan, and the client the text
 * sent each time (bench/README.md, "Prepared statements"). pg refuses a name prepared on a connection with another
 * text, so a second text under one name fails here, at load, rather than on some connection later. Behind a
 * connection pooler in transaction mode this needs one that keeps prepared statements (PgBouncer 1.21+ with
 * `max_prepared_statements`; docs/deployment.md).
 */
export function preparedStatement(name: string, text: string): PreparedStatement {
  const known = textsByName.get(name);
  if (known !== undefined && known !== text) throw new Error(`prepared statement ${name} has two texts`);
  textsByName.set(name, text);
  return { name, text, with: (values) => ({ name, text, values: [...values] }) };
}
