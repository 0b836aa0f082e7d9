import { Controller, Req } from '@nestjs/common';
import { createApiKey, listApiKeys, revokeApiKey, type RouteInput, type RouteOutput } from '#libs/api-contract';
import { ProblemError } from '#libs/platform';
import { ApiKeysRepository, Input, PrincipalCache, ServesRoute, type AuthenticatedRequest } from '#libs/auth';

@Controller()
export class ApiKeysController {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly cache: PrincipalCache,
  ) {}

  /** Returns the key once; only its digest is stored. */
  @ServesRoute(createApiKey)
  async create(
    @Req() request: AuthenticatedRequest,
    @Input(createApiKey) { body }: RouteInput<typeof createApiKey>,
  ): Promise<RouteOutput<typeof createApiKey>> {
    const created = await this.keys.create(request.principal.workspaceId, body.permission, body.label ?? null);
    return { ...created, permission: body.permission, label: body.label ?? null };
  }

  /** The workspace's keys (revoked ones too), each by id and prefix; never a key. */
  @ServesRoute(listApiKeys)
  async list(@Req() request: AuthenticatedRequest): Promise<RouteOutput<typeof listApiKeys>> {
    const keys = await this.keys.list(request.principal.workspaceId);
    return {
      keys: keys.map((key) => ({
        ...key,
        createdAt: key.createdAt.toISOString(),
        revokedAt: key.revokedAt?.toISOString() ?? null,
      })),
    };
  }

  /**
   * Revokes a key: at once in this process, within the key cache's lifetime (10 s) in the others. A key cannot revoke
   * itself, so a workspace is not locked out by a slip; rotate by creating the new admin key first.
   */
  @ServesRoute(revokeApiKey)
  async revoke(
    @Req() request: AuthenticatedRequest,
    @Input(revokeApiKey) { params }: RouteInput<typeof revokeApiKey>,
  ): Promise<void> {
    if (params.id === request.principal.keyId) {
      throw new ProblemError('conflict', 'a key cannot revoke itself; revoke it with another admin key');
    }
    if (!(await this.keys.revoke(request.principal.workspaceId, params.id))) {
      throw new ProblemError('not_found', `no API key ${params.id}`);
    }
    this.cache.forgetKeyId(params.id);
  }
}
