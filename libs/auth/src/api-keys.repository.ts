import { Inject, Injectable } from '@nestjs/common';
import { inTransaction, type Pool } from '#libs/db';
import { PG_POOL } from '#libs/platform';
import { generateApiKey, hashApiKey, keyPrefix } from './api-key-secret.js';
import type { Permission, Principal } from './principal.js';

export interface ApiKeyView {
  readonly id: string;
  readonly permission: Permission;
  readonly label: string | null;
  /** The first characters of the key, to recognise it. */
  readonly prefix: string;
  readonly createdAt: Date;
  readonly revokedAt: Date | null;
}

@Injectable()
export class ApiKeysRepository {
  constructor(@Inject(PG_POOL) private readonly pool: Pool) {}

  async findByKey(key: string): Promise<Principal | undefined> {
    const { rows } = await this.pool.query<{
      id: string;
      workspace_id: string;
      permission: Permission;
      label: string | null;
      operator: boolean;
    }>(
      `SELECT k.id, k.workspace_id, k.permission, k.label, w.operator
         FROM api_keys k JOIN workspaces w ON w.id = k.workspace_id
        WHERE k.key_hash = $1 AND k.revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    const row = rows[0];
    return (
      row && {
        keyId: row.id,
        workspaceId: row.workspace_id,
        permission: row.permission,
        label: row.label,
        operator: row.operator,
      }
    );
  }

  async create(
    workspaceId: string,
    permission: Permission,
    label: string | null = null,
  ): Promise<{ id: string; key: string }> {
    const key = generateApiKey();
    const { rows } = await this.pool.query<{ id: string }>(
      `INSERT INTO api_keys (workspace_id, permission, key_hash, key_prefix, label)
       VALUES ($1, $2, $3, $4, $5) RETURNING id`,
      [workspaceId, permission, hashApiKey(key), keyPrefix(key), label],
    );
    return { id: (rows[0] as { id: string }).id, key };
  }

  /** The workspace's keys, newest first; revoked ones too (with when), never a key or its digest. */
  async list(workspaceId: string): Promise<ApiKeyView[]> {
    const { rows } = await this.pool.query<ApiKeyView>(
      `SELECT id, permission, label, key_prefix AS "prefix", created_at AS "createdAt", revoked_at AS "revokedAt"
         FROM api_keys WHERE workspace_id = $1 ORDER BY created_at DESC, id`,
      [workspaceId],
    );
    return rows;
  }

  /** Revokes a key of the workspace; false when it has no such key. Revoking twice keeps the first time. */
  async revoke(workspaceId: string, id: string): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      'UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE workspace_id = $1 AND id = $2',
      [workspaceId, id],
    );
    return rowCount === 1;
  }

  /** Creates a workspace (tests use it; there is no public endpoint for it yet). */
  async createWorkspace(name: string, options: { operator?: boolean } = {}): Promise<string> {
    const { rows } = await this.pool.query<{ id: string }>(
      'INSERT INTO workspaces (name, operator) VALUES ($1, $2) RETURNING id',
      [name, options.operator ?? false],
    );
    return (rows[0] as { id: string }).id;
  }

  /**
   * When no workspace exists, creates `default`, the operators' workspace, with an admin key of the given value. The advisory lock makes
   * several API instances starting together create it once.
   */
  async bootstrap(adminKey: string): Promise<boolean> {
    return inTransaction(this.pool, async (client) => {
      await client.query("SELECT pg_advisory_xact_lock(hashtext('orchestrator.bootstrap'))");
      const { rows } = await client.query('SELECT 1 FROM workspaces LIMIT 1');
      if (rows.length) return false;
      const workspace = await client.query<{ id: string }>(
        "INSERT INTO workspaces (name, operator) VALUES ('default', true) RETURNING id",
      );
      await client.query(
        "INSERT INTO api_keys (workspace_id, permission, key_hash, key_prefix) VALUES ($1, 'admin', $2, $3)",
        [(workspace.rows[0] as { id: string }).id, hashApiKey(adminKey), keyPrefix(adminKey)],
      );
      return true;
    });
  }
}
