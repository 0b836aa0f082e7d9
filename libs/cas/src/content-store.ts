import { createHash } from 'node:crypto';
import type { Pool } from 'pg';

const REF = /^sha256:([0-9a-f]{64})$/;

/**
 * Content-addressed storage in Postgres (`cas_blobs`): a blob's key is its sha256, so storing the same output twice
 * stores it once, and a reference can be checked against what it names. Events carry `sha256:<hex>` references
 * instead of large payloads (DESIGN §1), which keeps Kafka messages small. Blobs belong to a workspace: a reference
 * resolves only among the blobs stored for the workspace asking, so naming another tenant's digest (in an output shaped
 * like a reference, say) finds nothing.
 */
export class ContentStore {
  constructor(private readonly pool: Pool) {}

  async put(workspaceId: string, content: Buffer, contentType: string): Promise<string> {
    const digest = createHash('sha256').update(content).digest('hex');
    await this.pool.query(
      `INSERT INTO cas_blobs (workspace_id, sha256, size_bytes, content_type, content) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (workspace_id, sha256) DO NOTHING`,
      [workspaceId, digest, content.length, contentType, content],
    );
    return `sha256:${digest}`;
  }

  async get(workspaceId: string, ref: string): Promise<{ content: Buffer; contentType: string } | undefined> {
    const digest = REF.exec(ref)?.[1];
    if (!digest) throw new Error(`not a content reference: ${ref}`);
    const { rows } = await this.pool.query<{ content: Buffer; content_type: string }>(
      'SELECT content, content_type FROM cas_blobs WHERE workspace_id = $1 AND sha256 = $2',
      [workspaceId, digest],
    );
    const row = rows[0];
    return row && { content: row.content, contentType: row.content_type };
  }

  /** A JSON value inline when its text is at most `inlineMaxBytes`, else stored and referenced. */
  async storeJson(
    workspaceId: string,
    value: unknown,
    inlineMaxBytes: number,
  ): Promise<{ json: string } | { ref: string }> {
    const json = JSON.stringify(value ?? null);
    if (Buffer.byteLength(json) <= inlineMaxBytes) return { json };
    return { ref: await this.put(workspaceId, Buffer.from(json), 'application/json') };
  }

  async loadJson(workspaceId: string, ref: string): Promise<unknown> {
    const blob = await this.get(workspaceId, ref);
    if (!blob) throw new Error(`content ${ref} is not in this workspace's storage`);
    return JSON.parse(blob.content.toString('utf8')) as unknown;
  }

  /**
   * Replaces `{$ref: "sha256:..."}` node outputs with their content, for expressions that read them. Outputs are
   * referenced by the run state (see visibleOutput in libs/runs) and resolved only where an expression needs them.
   */
  async resolveNodeOutputs(workspaceId: string, nodes: Record<string, unknown>): Promise<Record<string, unknown>> {
    if (!Object.values(nodes).some(isRef)) return nodes;
    const entries = await Promise.all(
      Object.entries(nodes).map(async ([id, value]) => [
        id,
        isRef(value) ? await this.loadJson(workspaceId, value.$ref) : value,
      ]),
    );
    return Object.fromEntries(entries) as Record<string, unknown>;
  }
}

const isRef = (value: unknown): value is { $ref: string } =>
  typeof value === 'object' &&
  value !== null &&
  Object.keys(value).length === 1 &&
  typeof (value as { $ref?: unknown }).$ref === 'string' &&
  REF.test((value as { $ref: string }).$ref);
