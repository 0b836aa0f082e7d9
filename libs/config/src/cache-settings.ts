import { RE2JS } from 're2js';
import { z } from 'zod';
// The module itself, not the library's index: it declares without compiling anything, which config must stay.
import {
  CACHEABLE_NODE_TYPES,
  MAX_CACHE_TTL_MS,
  type CacheableNodeType,
} from '../../workflows/src/definition-schema.js';

/**
 * The node result cache's settings that are more than a number: the per-workspace policies and the detectors of
 * sensitive results. Each is validated here, at start-up, with a message that says where in the value it is wrong.
 */

/** The built-in detectors of results that must never be cached (libs/cache implements each). */
export const SENSITIVE_DETECTORS = [
  'email',
  'card_number',
  'jwt',
  'api_key',
  'aws_access_key',
  'private_key',
  'bearer_token',
] as const;
export type SensitiveDetectorName = (typeof SENSITIVE_DETECTORS)[number];

/**
 * One workspace's cache policy: `enabled: false` turns the cache off for it; `ttlMs` replaces the type defaults;
 * `semanticTtlMs` the semantic cache's (0 turns the semantic cache off for the workspace).
 */
export interface WorkspaceCachePolicy {
  readonly enabled?: boolean;
  /** Per node type; 0 turns caching off for that type in the workspace. */
  readonly ttlMs?: Readonly<Partial<Record<CacheableNodeType, number>>>;
  readonly semanticTtlMs?: number;
}

const POLICY_SETTINGS = ['enabled', 'ttlMs', 'semanticTtlMs'];

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** The parsed value, or undefined (with the issue added) when the text is not JSON. */
function parseJson(text: string, ctx: z.RefinementCtx): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: `must be JSON: ${(error as Error).message}` });
    return undefined;
  }
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The JSON object the text holds, or undefined (with the issue added) when it is not JSON or not an object. */
function parseJsonObject(text: string, ctx: z.RefinementCtx, shape: string): Record<string, unknown> | undefined {
  const parsed = parseJson(text, ctx);
  if (!parsed) return undefined;
  if (isRecord(parsed.value)) return parsed.value;
  ctx.addIssue({ code: 'custom', message: `must be a JSON object of ${shape}` });
  return undefined;
}

/** `{"<workspace id>": {"enabled": false}, "<other id>": {"ttlMs": {"http_request": 600000}}}` */
export const workspaceCachePolicies = z.string().transform((text, ctx) => {
  const value = parseJsonObject(text, ctx, 'workspace id → {enabled?, ttlMs?, semanticTtlMs?}');
  if (!value) return z.NEVER;
  const problems: string[] = [];
  const policies = new Map<string, WorkspaceCachePolicy>();
  for (const [workspaceId, policy] of Object.entries(value)) {
    if (!UUID.test(workspaceId)) problems.push(`${JSON.stringify(workspaceId)} is not a workspace id (a uuid)`);
    if (!isRecord(policy)) {
      problems.push(`${workspaceId}: must be an object {enabled?, ttlMs?, semanticTtlMs?}`);
      continue;
    }
    for (const key of Object.keys(policy)) {
      if (!POLICY_SETTINGS.includes(key)) problems.push(`${workspaceId}: unknown setting ${JSON.stringify(key)}`);
    }
    const { semanticTtlMs } = policy;
    if (
      semanticTtlMs !== undefined &&
      (!Number.isInteger(semanticTtlMs) ||
        (semanticTtlMs as number) < 0 ||
        (semanticTtlMs as number) > MAX_CACHE_TTL_MS)
    ) {
      problems.push(`${workspaceId}.semanticTtlMs: must be an integer from 0 (off) to ${MAX_CACHE_TTL_MS}`);
    }
    if (policy.enabled !== undefined && typeof policy.enabled !== 'boolean') {
      problems.push(`${workspaceId}.enabled: must be true or false`);
    }
    if (policy.ttlMs !== undefined && !isRecord(policy.ttlMs)) problems.push(`${workspaceId}.ttlMs: must be an object`);
    for (const [type, ttl] of Object.entries(isRecord(policy.ttlMs) ? policy.ttlMs : {})) {
      if (!(CACHEABLE_NODE_TYPES as readonly string[]).includes(type)) {
        problems.push(`${workspaceId}.ttlMs: ${JSON.stringify(type)} is not one of ${CACHEABLE_NODE_TYPES.join(', ')}`);
      } else if (!Number.isInteger(ttl) || (ttl as number) < 0 || (ttl as number) > MAX_CACHE_TTL_MS) {
        problems.push(`${workspaceId}.ttlMs.${type}: must be an integer from 0 (off) to ${MAX_CACHE_TTL_MS}`);
      }
    }
    policies.set(workspaceId.toLowerCase(), policy);
  }
  if (problems.length) {
    ctx.addIssue({ code: 'custom', message: problems.join('; ') });
    return z.NEVER;
  }
  return policies;
});

/** Comma-separated names of built-in detectors, or `none`. */
export const sensitiveDetectorList = z.string().transform((text, ctx) => {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  if (names.length === 1 && names[0] === 'none') return [] as SensitiveDetectorName[];
  const unknown = names.filter((name) => !(SENSITIVE_DETECTORS as readonly string[]).includes(name));
  if (unknown.length) {
    ctx.addIssue({
      code: 'custom',
      message: `unknown detector ${unknown.join(', ')} (known: ${SENSITIVE_DETECTORS.join(', ')}; or none)`,
    });
    return z.NEVER;
  }
  return [...new Set(names)] as SensitiveDetectorName[];
});

/** A JSON array of regular expressions (RE2 syntax: linear time, no backreferences or lookaround). */
export const sensitivePatternList = z.string().transform((text, ctx) => {
  const parsed = parseJson(text, ctx);
  if (!parsed) return z.NEVER;
  const { value } = parsed;
  if (!Array.isArray(value) || !value.every((p) => typeof p === 'string' && p !== '')) {
    ctx.addIssue({ code: 'custom', message: 'must be a JSON array of non-empty regular expression strings' });
    return z.NEVER;
  }
  const patterns = value as string[];
  const problems: string[] = [];
  for (const pattern of patterns) {
    try {
      RE2JS.compile(pattern);
    } catch (error) {
      problems.push(`${JSON.stringify(pattern)}: ${(error as Error).message}`);
    }
  }
  if (problems.length) {
    ctx.addIssue({ code: 'custom', message: `not valid RE2 patterns: ${problems.join('; ')}` });
    return z.NEVER;
  }
  return patterns;
});

/** What a model's tokens cost, per million: what a cached agent result saved is priced with it. */
export interface TokenPrice {
  readonly promptPerMillion: number;
  readonly completionPerMillion: number;
}

/** `{"<model>": {"promptPerMillion": 0.15, "completionPerMillion": 0.6}}`, in one currency of the operator's choice. */
export const tokenPrices = z.string().transform((text, ctx) => {
  const value = parseJsonObject(text, ctx, 'model → {promptPerMillion, completionPerMillion}');
  if (!value) return z.NEVER;
  const problems: string[] = [];
  const prices = new Map<string, TokenPrice>();
  for (const [model, price] of Object.entries(value)) {
    if (!isRecord(price)) {
      problems.push(`${JSON.stringify(model)}: must be an object {promptPerMillion, completionPerMillion}`);
      continue;
    }
    for (const key of Object.keys(price)) {
      if (key !== 'promptPerMillion' && key !== 'completionPerMillion') {
        problems.push(`${JSON.stringify(model)}: unknown setting ${JSON.stringify(key)}`);
      }
    }
    const { promptPerMillion, completionPerMillion } = price;
    for (const [name, amount] of [
      ['promptPerMillion', promptPerMillion],
      ['completionPerMillion', completionPerMillion],
    ] as const) {
      if (typeof amount !== 'number' || !Number.isFinite(amount) || amount < 0) {
        problems.push(`${JSON.stringify(model)}.${name}: must be a number ≥ 0`);
      }
    }
    prices.set(model, { promptPerMillion, completionPerMillion } as TokenPrice);
  }
  if (problems.length) {
    ctx.addIssue({ code: 'custom', message: problems.join('; ') });
    return z.NEVER;
  }
  return prices;
});
