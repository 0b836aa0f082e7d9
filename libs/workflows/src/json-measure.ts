/**
 * The size of a value's JSON text (as `JSON.stringify` writes it, counted in UTF-8 bytes) and its nesting depth,
 * found by walking it with an explicit stack: no recursion to overflow on deep input, no text built to measure.
 */
export interface JsonMeasure {
  bytes: number;
  /** Containers on the deepest path: 0 for a scalar, 1 for `{}` or `[1]`, 2 for `{"a":[]}`. */
  depth: number;
}

/** Stop walking once a limit is passed: the result then only says "more than the limit" (its numbers are partial). */
export interface MeasureLimits {
  maxBytes?: number;
  maxDepth?: number;
}

export function measureJson(value: unknown, limits: MeasureLimits = {}): JsonMeasure {
  const maxBytes = limits.maxBytes ?? Infinity;
  const maxDepth = limits.maxDepth ?? Infinity;
  let bytes = 0;
  let depth = 0;
  const stack: { value: unknown; level: number }[] = [{ value, level: 0 }];
  while (stack.length) {
    const { value: current, level } = stack.pop() as { value: unknown; level: number };
    if (Array.isArray(current)) {
      // Brackets and the commas between elements; a hole or undefined element is written as null.
      bytes += 2 + Math.max(0, current.length - 1);
      depth = Math.max(depth, level + 1);
      for (const element of current) stack.push({ value: element === undefined ? null : element, level: level + 1 });
    } else if (typeof current === 'object' && current !== null) {
      bytes += 2;
      depth = Math.max(depth, level + 1);
      let members = 0;
      for (const [key, member] of Object.entries(current)) {
        // Members JSON leaves out.
        if (member === undefined || typeof member === 'function' || typeof member === 'symbol') continue;
        bytes += jsonStringBytes(key) + 1 + (members++ > 0 ? 1 : 0);
        stack.push({ value: member, level: level + 1 });
      }
    } else {
      bytes += scalarBytes(current);
    }
    if (bytes > maxBytes || depth > maxDepth) break;
  }
  return { bytes, depth };
}

function scalarBytes(value: unknown): number {
  if (typeof value === 'string') return jsonStringBytes(value);
  if (typeof value === 'number') return Number.isFinite(value) ? String(value).length : 4;
  if (typeof value === 'boolean') return value ? 4 : 5;
  // null, and what JSON cannot hold (written as null inside arrays).
  return 4;
}

/** UTF-8 bytes of a string written as a JSON string literal, quotes and escapes included. */
export function jsonStringBytes(text: string): number {
  let bytes = 2;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20) bytes += code === 8 || code === 9 || code === 10 || code === 12 || code === 13 ? 2 : 6;
    else if (code === 0x22 || code === 0x5c) bytes += 2;
    else if (code < 0x80) bytes += 1;
    else if (code < 0x800) bytes += 2;
    else if (code >= 0xd800 && code <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
      bytes += 4;
      i++;
    } else if (code >= 0xd800 && code <= 0xdfff)
      bytes += 6; // a lone surrogate is written as \udXXX
    else bytes += 3;
  }
  return bytes;
}

const isLowSurrogate = (code: number) => code >= 0xdc00 && code <= 0xdfff;
