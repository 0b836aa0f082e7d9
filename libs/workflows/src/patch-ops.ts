import type { SchemaObject } from 'ajv';
import { compileSchemaCheck, isRecord } from './schema-errors.js';
import type { ValidationResult } from './workflow-definition.js';

/** RFC 6902 JSON Patch operations. `path`/`from` are JSON Pointers (RFC 6901). */
export type PatchOperation =
  | { op: 'add'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'replace'; path: string; value: unknown }
  | { op: 'move'; from: string; path: string }
  | { op: 'copy'; from: string; path: string }
  | { op: 'test'; path: string; value: unknown };

export const PATCH_OPS = [
  'add',
  'remove',
  'replace',
  'move',
  'copy',
  'test',
] as const satisfies readonly PatchOperation['op'][];
export const MAX_PATCH_OPS = 1000;

const jsonPointer = {
  type: 'string',
  pattern: '^(/([^~/]|~[01])*)*$',
  description: 'a JSON Pointer ("" or starting with "/", with "~" only in ~0 or ~1)',
};

// Each op lists exactly its own members: a `from` on `add` or a `value` on `remove` is more likely a mistake than
// something to ignore silently, and the patch is user input that should fail loudly (DESIGN §3 invariant 8).
const members: Record<PatchOperation['op'], Record<string, SchemaObject>> = {
  add: { value: {} },
  remove: {},
  replace: { value: {} },
  move: { from: jsonPointer },
  copy: { from: jsonPointer },
  test: { value: {} },
};

export const patchOpsSchema: SchemaObject = {
  type: 'array',
  minItems: 1,
  maxItems: MAX_PATCH_OPS,
  items: {
    type: 'object',
    required: ['op'],
    discriminator: { propertyName: 'op' },
    oneOf: PATCH_OPS.map((op) => ({
      type: 'object',
      properties: { op: { const: op }, path: jsonPointer, ...members[op] },
      required: ['op', 'path', ...Object.keys(members[op])],
      additionalProperties: false,
    })),
  },
};

const checkOps = compileSchemaCheck(patchOpsSchema, { label: 'ops', rootName: 'ops' }, (error, where) => {
  const params = error.params as Record<string, unknown>;
  const op = isRecord(error.data) ? JSON.stringify(error.data.op) : '';
  const inBranch = error.schemaPath.startsWith('#/items/oneOf/');
  switch (error.keyword) {
    case 'discriminator':
      // A missing `op` is already a "required" error.
      return params.tagValue === undefined
        ? null
        : `${where}.op: unknown op ${JSON.stringify(params.tagValue)} (known: ${PATCH_OPS.join(', ')})`;
    case 'required':
      return inBranch ? `${where}: "${String(params.missingProperty)}" is required for op ${op}` : undefined;
    case 'additionalProperties':
      return inBranch ? `${where}: "${String(params.additionalProperty)}" is not allowed for op ${op}` : undefined;
    case 'minItems':
      return `${where}: must have at least one op`;
    case 'maxItems':
      return `${where}: must have at most ${MAX_PATCH_OPS} ops`;
    default:
      return undefined;
  }
});

/**
 * rfc6902 skips these tokens while walking a pointer (its own pollution defence), so `/nodes/__proto__` would
 * silently address `/nodes` itself. Refusing them keeps a patch meaning what it says. Node ids cannot be these names.
 */
const FORBIDDEN_TOKENS = new Set(['__proto__', 'constructor', 'prototype']);

function forbiddenTokens(ops: readonly PatchOperation[]): string[] {
  return ops.flatMap((op, index) =>
    (['path', 'from'] as const).flatMap((member) => {
      const pointer = (op as Partial<Record<'path' | 'from', string>>)[member];
      const token = pointer?.split('/').find((t) => FORBIDDEN_TOKENS.has(t));
      return token === undefined ? [] : [`ops[${index}].${member}: "${token}" is not allowed in a path`];
    }),
  );
}

/**
 * A copy into its own source doubles that source, and a few dozen such ops outgrow any memory. The definition budget
 * stops that in the materializer anyway, but a copy or move whose `path` lies inside its `from` is known to be wrong
 * from the patch alone, so it is refused before it is accepted. (RFC 6902 forbids only the move.)
 */
function intoItself(ops: readonly PatchOperation[]): string[] {
  return ops.flatMap((op, index) =>
    (op.op === 'copy' || op.op === 'move') && op.path.startsWith(`${op.from}/`)
      ? [`ops[${index}]: cannot ${op.op} ${op.from || '""'} into itself (path is inside from)`]
      : [],
  );
}

/** Checks an RFC 6902 patch from outside (API body, Kafka payload); errors read like `ops[3]: "value" is required for op "add"`. */
export function validatePatchOps(input: unknown): ValidationResult<PatchOperation[]> {
  const shape = checkOps(input);
  const errors = shape.length
    ? shape
    : [...forbiddenTokens(input as PatchOperation[]), ...intoItself(input as PatchOperation[])];
  return errors.length === 0 ? { ok: true, value: input as PatchOperation[] } : { ok: false, errors };
}
