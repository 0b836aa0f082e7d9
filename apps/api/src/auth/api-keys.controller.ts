import { Body, Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ProblemError } from '#libs/platform';
import {
  ApiKeysRepository,
  PERMISSIONS,
  PrincipalCache,
  Requires,
  type ApiKeyView,
  type AuthenticatedRequest,
  type Permission,
} from '#libs/auth';
import { requireUuid } from '../request-checks.js';

@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly cache: PrincipalCache,
  ) {}

  /** Returns the key once; only its digest is stored. */
  @Post()
  @HttpCode(201)
  @Requires('admin')
  async create(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<{ id: string; key: string; permission: Permission; label: string | null }> {
    const { permission, label } = (body ?? {}) as { permission?: unknown; label?: unknown };
    if (!PERMISSIONS.includes(permission as Permission)) {
      throw new ProblemError('validation_failed', `permission must be one of ${PERMISSIONS.join(', ')}`);
    }
    if (label !== undefined && (typeof label !== 'string' || label.length < 1 || label.length > 100)) {
      throw new ProblemError('validation_failed', 'label must be a string of 1 to 100 characters');
    }
    const created = await this.keys.create(request.principal.workspaceId, permission as Permission, label ?? null);
    return { ...created, permission: permission as Permission, label: label ?? null };
  }

  /** The workspace's keys (revoked ones too), each by id and prefix; never a key. */
  @Get()
  @Requires('admin')
  async list(@Req() request: AuthenticatedRequest): Promise<{ keys: ApiKeyView[] }> {
    return { keys: await this.keys.list(request.principal.workspaceId) };
  }

  /**
   * Revokes a key: at once in this process, within the key cache's lifetime (10 s) in the others. A key cannot revoke
   * itself, so a workspace is not locked out by a slip; rotate by creating the new admin key first.
   */
  @Delete(':id')
  @HttpCode(204)
  @Requires('admin')
  async revoke(@Req() request: AuthenticatedRequest, @Param('id') id: string): Promise<void> {
    const keyId = requireUuid(id, 'API key');
    if (keyId === request.principal.keyId) {
      throw new ProblemError('conflict', 'a key cannot revoke itself; revoke it with another admin key');
    }
    if (!(await this.keys.revoke(request.principal.workspaceId, keyId))) {
      throw new ProblemError('not_found', `no API key ${keyId}`);
    }
    this.cache.forgetKeyId(keyId);
  }
}
