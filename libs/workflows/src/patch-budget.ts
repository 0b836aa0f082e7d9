import { Pointer, type Operation } from 'rfc6902';
import { jsonStringBytes, measureJson } from './json-measure.js';

export interface BudgetLimits {
  readonly maxBytes: number;
  readonly maxDepth: number;
}

type Container = Record<string, unknown> | unknown[];

interface Location {
  readonly parent: Container;
  readonly key: string;
  readonly value: unknown;
  /** An own member of an object, or an element of an array (not `length`, not a member of Object.prototype). */
  readonly exists: boolean;
  /** Containers of the document above the value. */
  readonly above: number;
}

export const PATH_MISSING = 'path does not exist';
export const NO_PARENT = 'parent path does not exist (or array index out of range)';
export const fromMissing = (from: string) => `"from" path ${from || '""'} does not exist`;

/**
 * Keeps one patch's document within its limits while the ops are applied. RFC 6902 `copy` deep-clones, so a handful
 * of ops can double a document again and again; measuring the whole document after every op would itself cost
 * ops × size. Instead each op is priced before it runs, from the parts it touches: the value it adds (from the patch,
 * or the copied source), the member it replaces or removes, and the key and comma around it. The running total is the
 * exact size of the JSON text, so an op that would overrun is refused before it allocates anything. What one patch
 * copies is bounded too (copy, remove, copy again… stays small but costs a full clone each time).
 *
 * Ops work on a holder `{root: document}` (the fold's trick for the whole-document pointer), with `/root` paths.
 */
export class PatchBudget {
  private copied = 0;

  constructor(
    private readonly holder: { root: unknown },
    private readonly limits: BudgetLimits,
    /** The exact size of `holder.root` now. */
    private size: number,
  ) {}

  get bytes(): number {
    return this.size;
  }

  /** Why `op` may not run (null: it may), having booked its growth. Run it only after null. */
  admit(op: Operation): string | null {
    const growth = this.growth(op);
    if (typeof growth === 'string') return growth;
    if (this.size + growth > this.limits.maxBytes) return tooBig(this.limits);
    this.size += growth;
    return null;
  }

  private growth(op: Operation): number | string {
    switch (op.op) {
      case 'test':
        // Nothing changes, but the comparison walks the value recursively.
        return measureJson(op.value, this.limits).depth > this.limits.maxDepth ? this.tooDeep() : 0;
      case 'add':
      case 'replace':
        return this.place(op.op, op.path, measureJson(op.value, this.limits));
      case 'copy': {
        const from = this.locate(op.from);
        if (!from?.exists) return fromMissing(unrooted(op.from));
        const left = this.limits.maxBytes - this.copied;
        const source = measureJson(from.value, { maxBytes: left, maxDepth: this.limits.maxDepth });
        this.copied += source.bytes;
        if (this.copied > this.limits.maxBytes) return `the patch copies more than ${this.limits.maxBytes} bytes`;
        return this.place('add', op.path, source);
      }
      case 'remove': {
        const target = this.locate(op.path);
        if (!target?.exists) return PATH_MISSING;
        if (this.isRoot(target)) return -this.size;
        return -(this.bytesOf(target.value) + this.entryBytes(target.parent, target.key, !hasOthers(target)));
      }
      case 'move':
        return this.move(op.from, op.path);
    }
  }

  /** add (insert into an array, add or replace an object member) or replace, of a value of `value.bytes`. */
  private place(kind: 'add' | 'replace', path: string, value: { bytes: number; depth: number }): number | string {
    const target = this.locate(path);
    if (!target) return kind === 'add' ? NO_PARENT : PATH_MISSING;
    if (kind === 'replace' && !target.exists) return PATH_MISSING;
    if (target.above + value.depth > this.limits.maxDepth) return this.tooDeep();
    if (value.bytes > this.limits.maxBytes) return tooBig(this.limits);
    if (this.isRoot(target)) return value.bytes - this.size;
    if (Array.isArray(target.parent) && kind === 'add') return value.bytes + (target.parent.length > 0 ? 1 : 0);
    if (target.exists) return value.bytes - this.bytesOf(target.value);
    return value.bytes + this.entryBytes(target.parent, target.key, isEmpty(target.parent));
  }

  /** A move keeps the value's bytes; only its key, its comma and whatever it replaces change. */
  private move(fromPath: string, path: string): number | string {
    const from = this.locate(fromPath);
    if (!from?.exists) return fromMissing(unrooted(fromPath));
    const to = this.locate(path);
    if (!to) return NO_PARENT;
    if (fromPath === path || path.startsWith(`${fromPath}/`)) return 0; // a no-op, or refused by rfc6902 itself
    const leaving = this.entryBytes(from.parent, from.key, !hasOthers(from));
    if (fromPath.startsWith(`${path}/`)) {
      // Onto one of its own ancestors: that ancestor (which held the value) gives way to the value.
      if (this.isRoot(to)) return this.bytesOf(from.value) - this.size;
      if (Array.isArray(to.parent)) return 1 - leaving; // inserted beside what is left of the ancestor
      return this.bytesOf(from.value) - this.bytesOf(to.value);
    }
    const sameParent = to.parent === from.parent;
    if (Array.isArray(to.parent)) return -leaving + (to.parent.length - (sameParent ? 1 : 0) > 0 ? 1 : 0);
    if (to.exists) return -leaving - this.bytesOf(to.value);
    const emptyAfter = sameParent ? !hasOthers(from) : isEmpty(to.parent);
    return -leaving + this.entryBytes(to.parent, to.key, emptyAfter);
  }

  /** What a member costs besides its value: `"key":` in an object, and a comma unless it is alone. */
  private entryBytes(parent: Container, key: string, alone: boolean): number {
    return (Array.isArray(parent) ? 0 : jsonStringBytes(key) + 1) + (alone ? 0 : 1);
  }

  private bytesOf(value: unknown): number {
    return measureJson(value).bytes;
  }

  private isRoot(location: Location): boolean {
    return location.parent === (this.holder as unknown as Container);
  }

  private tooDeep(): string {
    return tooDeep(this.limits);
  }

  /**
   * Where a rooted pointer leads, with JSON's notion of a member: rfc6902 would also find `length` on an array and
   * Object.prototype's members on an object, and a `replace` of `/edges/length` would then allocate billions of slots.
   * Null when the parent does not exist.
   */
  private locate(pointer: string): Location | null {
    const tokens = Pointer.fromJSON(pointer).tokens.slice(1);
    let parent: Container | null = null;
    let value: unknown = this.holder;
    let exists = true;
    let key = '';
    for (const token of tokens) {
      if (!exists || typeof value !== 'object' || value === null) return null;
      parent = value as Container;
      key = token;
      ({ exists, value } = memberOf(parent, key));
    }
    return parent === null ? null : { parent, key, value, exists, above: tokens.length - 1 };
  }
}

export const tooBig = (limits: BudgetLimits) => `the definition would exceed ${limits.maxBytes} bytes`;
export const tooDeep = (limits: BudgetLimits) => `the definition would nest deeper than ${limits.maxDepth} levels`;

function memberOf(container: Container, key: string): { exists: boolean; value: unknown } {
  if (Array.isArray(container)) {
    const exists = /^(0|[1-9][0-9]*)$/.test(key) && Number(key) < container.length;
    return { exists, value: exists ? container[Number(key)] : undefined };
  }
  const exists = Object.hasOwn(container, key);
  return { exists, value: exists ? container[key] : undefined };
}

function isEmpty(container: Container): boolean {
  if (Array.isArray(container)) return container.length === 0;
  for (const key in container) if (Object.hasOwn(container, key)) return false;
  return true;
}

/** Whether the container holds another member beside the one at `location`. */
function hasOthers(location: Location): boolean {
  if (Array.isArray(location.parent)) return location.parent.length > 1;
  for (const key in location.parent) if (key !== location.key && Object.hasOwn(location.parent, key)) return true;
  return false;
}

const unrooted = (pointer: string) => pointer.slice('/root'.length);
