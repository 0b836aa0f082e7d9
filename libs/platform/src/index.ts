export { createRolesApp, runRoles, type RoleDefinition } from './bootstrap.js';
export { DependencyChecks, type CheckResult } from './dependency-checks.js';
export { PlatformModule } from './platform.module.js';
export * from './tokens.js';
