import { SetMetadata } from '@nestjs/common';

export const PUBLIC_ROUTE = 'orchestrator:public-route';

/**
 * Marks a route (or a controller) as open to callers without an API key. The API-key guard refuses every route that
 * declares neither this nor a permission, so forgetting one fails closed.
 */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);
