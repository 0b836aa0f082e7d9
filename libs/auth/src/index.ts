export { AuthModule } from './auth.module.js';
export { ApiKeyGuard, Requires, routeAccess, type AuthenticatedRequest } from './api-key.guard.js';
export { ApiKeysRepository, type ApiKeyView } from './api-keys.repository.js';
export { bootstrapKeyRefusal } from './bootstrap-key.js';
export { PrincipalCache } from './principal-cache.js';
export { PERMISSIONS, allows, meets, type Permission, type Principal, type Requirement } from './principal.js';
export { hashApiKey } from './api-key-secret.js';
export { Input, ServesRoute } from './contract-route.js';
export { RateLimits, type RateLimitScope } from './rate-limits.js';
