import { Body, Controller, HttpCode, Post, Req } from '@nestjs/common';
import { ProblemError } from '#libs/platform';
import { ApiKeysRepository, PERMISSIONS, Requires, type AuthenticatedRequest, type Permission } from '#libs/auth';

@Controller('v1/api-keys')
export class ApiKeysController {
  constructor(private readonly keys: ApiKeysRepository) {}

  /** Returns the key once; only its digest is stored. */
  @Post()
  @HttpCode(201)
  @Requires('admin')
  async create(
    @Req() request: AuthenticatedRequest,
    @Body() body: unknown,
  ): Promise<{ id: string; key: string; permission: Permission }> {
    const permission = (body as { permission?: unknown } | null)?.permission;
    if (!PERMISSIONS.includes(permission as Permission)) {
      throw new ProblemError('validation_failed', `permission must be one of ${PERMISSIONS.join(', ')}`);
    }
    const created = await this.keys.create(request.principal.workspaceId, permission as Permission);
    return { ...created, permission: permission as Permission };
  }
}
