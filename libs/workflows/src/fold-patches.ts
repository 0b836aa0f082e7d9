import { applyPatch, Pointer, type Operation } from 'rfc6902';
import { measureJson } from './json-measure.js';
import { NO_PARENT, PATH_MISSING, PatchBudget, tooBig, tooDeep, type BudgetLimits } from './patch-budget.js';
import { validatePatchOps, type PatchOperation } from './patch-ops.js';
import { validateDefinition } from './validate-definition.js';
import {
  DEFAULT_DEFINITION_MAX_BYTES,
  DEFAULT_DEFINITION_MAX_DEPTH,
  type DefinitionOptions,
  type WorkflowDefinition,
} from './workflow-definition.js';

export interface PendingPatch {
  id: string;
  seq: number;
  ops: PatchOperation[];
}

export type PatchDecision =
  | { patchId: string; seq: number; status: 'applied' }
  | { patchId: string; seq: number; status: 'rejected'; reason: string };

export interface FoldResult {
  definition: WorkflowDefinition;
  appliedThroughSeq: number;
  decisions: PatchDecision[];
  applied: number;
}

/** How many definition errors a rejection reason quotes; the rest are counted. */
const REASON_ERRORS = 3;

/**
 * Folds pending patches into a workflow definition, in `seq` order (DESIGN §3 invariant 2): each patch is applied
 * whole or rejected with a reason, and a rejection does not block later patches. Patches at or below
 * `base.appliedThroughSeq` were decided before (Kafka redelivers) and are skipped without a decision. Pure: neither
 * `base` nor `patches` is modified.
 */
export function foldPatches(
  base: { definition: WorkflowDefinition; appliedThroughSeq: number },
  patches: readonly PendingPatch[],
  options: DefinitionOptions = {},
): FoldResult {
  const limits: BudgetLimits = {
    maxBytes: options.maxBytes ?? DEFAULT_DEFINITION_MAX_BYTES,
    maxDepth: options.maxDepth ?? DEFAULT_DEFINITION_MAX_DEPTH,
  };
  let appliedThroughSeq = base.appliedThroughSeq;
  let applied = 0;
  const decisions: PatchDecision[] = [];
  // Measured before anything clones it: a stored definition over the limits (the limits were lowered since) is left
  // as it is rather than walked recursively.
  const start = measureJson(base.definition, limits);
  const over = start.bytes > limits.maxBytes || start.depth > limits.maxDepth;
  let definition = over ? base.definition : structuredClone(base.definition);
  let size = start.bytes;

  for (const patch of [...patches].sort((a, b) => a.seq - b.seq)) {
    // Against the running mark, this also drops a second copy of a seq within the batch (and a NaN seq).
    if (!(patch.seq > appliedThroughSeq)) continue;
    appliedThroughSeq = patch.seq;
    const outcome = over
      ? `the definition is over its limits (${limits.maxBytes} bytes, ${limits.maxDepth} levels) already`
      : applyOne(definition, size, patch.ops, options, limits);
    if (typeof outcome === 'string') {
      decisions.push({ patchId: patch.id, seq: patch.seq, status: 'rejected', reason: outcome });
    } else {
      ({ definition, size } = outcome);
      applied++;
      decisions.push({ patchId: patch.id, seq: patch.seq, status: 'applied' });
    }
  }
  return { definition, appliedThroughSeq, decisions, applied };
}

/** The patched definition and its size, or why the patch is rejected. Works on a clone so a rejected patch leaves no trace. */
function applyOne(
  definition: WorkflowDefinition,
  size: number,
  ops: unknown,
  options: DefinitionOptions,
  limits: BudgetLimits,
): { definition: WorkflowDefinition; size: number } | string {
  // Ops were checked at the API, but a patch is re-read from Kafka and the database: check again, never throw.
  const shape = validatePatchOps(ops);
  if (!shape.ok) return `invalid ops: ${summarize(shape.errors)}`;

  // Patch a holder whose `root` is the document, so the RFC's whole-document pointer "" (which rfc6902 cannot
  // replace) becomes an ordinary member "/root".
  const holder: { root: unknown } = { root: structuredClone(definition) };
  const budget = new PatchBudget(holder, limits, size);
  for (const [index, op] of shape.value.entries()) {
    const failure = applyOp(holder, op, budget);
    if (failure !== null) return `${describeOp(index, op)}: ${failure}`;
  }
  // Moves are priced by their keys alone, so the depth they build is only seen here; and the next patch starts from
  // this measurement, not from the running estimate.
  const measured = measureJson(holder.root, limits);
  if (measured.bytes > limits.maxBytes) return tooBig(limits);
  if (measured.depth > limits.maxDepth) return tooDeep(limits);

  const result = validateDefinition(holder.root, options);
  return result.ok
    ? { definition: result.value, size: measured.bytes }
    : `invalid definition: ${summarize(result.errors)}`;
}

/** Applies one op to `holder.root`; null on success, else what failed. */
function applyOp(holder: { root: unknown }, op: PatchOperation, budget: PatchBudget): string | null {
  const rooted = { ...op, path: `/root${op.path}`, ...('from' in op ? { from: `/root${op.from}` } : {}) } as Operation;
  let error: Error | null | undefined;
  try {
    if (copiesPastArrayEnd(holder, rooted)) return NO_PARENT;
    const refused = budget.admit(rooted);
    if (refused !== null) return refused;
    [error] = applyPatch(holder, [rooted]);
  } catch (thrown) {
    return `could not apply: ${thrown instanceof Error ? thrown.message : String(thrown)}`;
  }
  if (!error) return null;
  switch (error.name) {
    case 'TestError':
      return 'value differs';
    case 'MissingError': {
      const missing = (error as Error & { path?: string }).path;
      if ('from' in op && missing === `/root${op.from}`) return `"from" path ${op.from || '""'} does not exist`;
      if (op.op === 'move' && op.path.startsWith(`${op.from}/`)) return 'cannot move a value into its own child';
      if (op.op === 'add' || op.op === 'copy' || op.op === 'move') return NO_PARENT;
      return PATH_MISSING;
    }
    default:
      return error.message;
  }
}

/**
 * rfc6902 range-checks array indexes for `add` but not for `copy`/`move`, which would silently append at `/edges/9`
 * of a two-edge list. RFC 6902 says the index must not exceed the array's length (after a move's removal).
 */
function copiesPastArrayEnd(holder: { root: unknown }, op: Operation): boolean {
  if (op.op !== 'copy' && op.op !== 'move') return false;
  const target = Pointer.fromJSON(op.path).evaluate(holder);
  if (!Array.isArray(target.parent) || target.key === '-') return false;
  const source = Pointer.fromJSON(op.from).evaluate(holder);
  const length = target.parent.length - (op.op === 'move' && source.parent === target.parent ? 1 : 0);
  return !/^(0|[1-9][0-9]*)$/.test(target.key) || Number(target.key) > length;
}

function describeOp(index: number, op: PatchOperation): string {
  const path = op.path || '""';
  return `ops[${index}] (${op.op} ${path}${'from' in op ? ` from ${op.from || '""'}` : ''})`;
}

function summarize(errors: string[]): string {
  const more = errors.length - REASON_ERRORS;
  return errors.slice(0, REASON_ERRORS).join('; ') + (more > 0 ? `; and ${more} more` : '');
}
