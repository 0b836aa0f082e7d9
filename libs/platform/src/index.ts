export { createRolesApp, runRoles, type RoleDefinition } from './bootstrap.js';
export { DependencyChecks, type CheckResult } from './dependency-checks.js';
export { PlatformModule } from './platform.module.js';
export * from './tokens.js';
export { ProblemFilter } from './problem.filter.js';
export { problemBody, ProblemError, PROBLEM_STATUS, type ProblemBody, type ProblemCode } from './problems.js';
export { responseGone } from './response-gone.js';
export { roleConsumer } from './role-consumer.js';
export { Public, PUBLIC_ROUTE } from './public-route.js';
