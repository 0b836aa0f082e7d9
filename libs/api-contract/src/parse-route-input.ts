import type { z } from 'zod';
import type { ApiRoute, RouteInput } from './route.js';

export type InputPart = 'params' | 'query' | 'headers' | 'body';

export type ParsedInput<R extends ApiRoute> =
  | { readonly ok: true; readonly value: RouteInput<R> }
  | {
      readonly ok: false;
      readonly part: InputPart;
      /** `<where>: <what>` per problem; for a body that is not an object, just that. */
      readonly errors: readonly string[];
      /** One line for the problem's detail; for a path parameter, `no run "<value>"`. */
      readonly detail: string;
    };

export interface RawRequest {
  readonly params: unknown;
  readonly query: unknown;
  readonly headers: unknown;
  readonly body: unknown;
}

/** `ops[0].value`, `input.list[1].text`: where a problem is, as the clients' JSON reads. */
export function issuePath(path: readonly PropertyKey[]): string {
  return path
    .map((key, i) =>
      typeof key === 'number'
        ? `[${key}]`
        : /^[A-Za-z_$][\w$]*$/.test(String(key))
          ? `${i ? '.' : ''}${String(key)}`
          : `[${JSON.stringify(String(key))}]`,
    )
    .join('');
}

const describe = (issues: readonly z.core.$ZodIssue[], prefix: string): string[] =>
  issues.map((issue) => {
    const where = issuePath([...(prefix ? [prefix] : []), ...issue.path]);
    return where ? `${where}: ${issue.message}` : issue.message;
  });

/** Checks a request against its route's schemas, part by part in the order a client would fix them. Never throws. */
export function parseRouteInput<R extends ApiRoute>(route: R, raw: RawRequest): ParsedInput<R> {
  const value: Record<InputPart, unknown> = { params: {}, query: {}, headers: {}, body: undefined };
  for (const part of ['params', 'headers', 'query'] as const) {
    const schema = route[part];
    if (!schema) continue;
    const result = schema.safeParse(raw[part] ?? {});
    if (!result.success) {
      const errors = describe(result.error.issues, '');
      const first = result.error.issues[0];
      const key = first?.path[0];
      const failing = key === undefined ? undefined : (raw[part] as Record<PropertyKey, unknown> | undefined)?.[key];
      const detail = part === 'params' && first ? `${first.message} ${JSON.stringify(failing)}` : errors.join('; ');
      return { ok: false, part, errors, detail };
    }
    value[part] = result.data;
  }
  if (route.body) {
    const body = raw.body === undefined || raw.body === null ? (route.bodyOptional ? {} : raw.body) : raw.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { ok: false, part: 'body', errors: [], detail: 'the body must be a JSON object' };
    }
    const result = route.body.safeParse(body);
    if (!result.success) {
      const errors = describe(result.error.issues, '');
      return { ok: false, part: 'body', errors, detail: errors.join('; ') };
    }
    value.body = result.data;
  }
  return { ok: true, value: value as unknown as RouteInput<R> };
}
