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

/** Checks an RFC 6902 patch from outside (API body, Kafka payload); errors read like `ops[3]: "value" is required for op "add"`. */
export function validatePatchOps(input: unknown): ValidationResult<PatchOperation[]> {
  const errors = checkOps(input);
  return errors.length === 0 ? { ok: true, value: input as PatchOperation[] } : { ok: false, errors };
}
