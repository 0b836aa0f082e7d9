import { Ajv, type ErrorObject, type SchemaObject } from 'ajv';

/**
 * Compiles JSON Schemas (ajv) into checks that return human messages of the form `<where>: <what>`, e.g.
 * `nodes.fetch.timeoutMs: must be at most 86400000` or `ops[2]: "value" is required for op "add"`, instead of ajv's
 * `/nodes/fetch/timeoutMs must be <= 86400000`. Messages go straight to API users (RFC 7807 problem details).
 */

/** Where errors are reported: `label` names the root (`ops`, or '' for a definition whose paths start at `nodes`). */
export interface ErrorContext {
  label: string;
  /** What to call the root itself when an error is about it, e.g. `definition`. */
  rootName: string;
}

/** Rewrites one ajv error for its context; `null` drops it (already covered by another error), undefined = default. */
export type ErrorRewrite = (error: ErrorObject, where: string) => string | null | undefined;

export type SchemaCheck = (data: unknown) => string[];

// One shared instance. `verbose` exposes parentSchema (for "allowed: …" lists) and the failing data (for the op name);
// `strictRequired` is off because a tagged `oneOf` requires its tag outside the branches that declare it;
// `discriminator` makes a tagged `oneOf` report only the branch the tag selects (readable errors, linear time).
const ajv = new Ajv({ allErrors: true, verbose: true, discriminator: true, strictRequired: false });

export function compileSchemaCheck(schema: SchemaObject, context: ErrorContext, rewrite?: ErrorRewrite): SchemaCheck {
  const validate = ajv.compile(schema);
  return (data) => {
    if (validate(data)) return [];
    const messages: string[] = [];
    for (const error of validate.errors ?? []) {
      const where = locate(context, data, error.instancePath);
      const custom = rewrite?.(error, where);
      if (custom === null) continue;
      const message = custom ?? describe(error, where);
      if (message !== null && !messages.includes(message)) messages.push(message);
    }
    return messages;
  };
}

/** `/nodes/a~1b/retry/0` → `nodes.a/b.retry[0]`: array indexes in brackets, keys dotted. */
function locate(context: ErrorContext, data: unknown, instancePath: string): string {
  let where = context.label;
  let current: unknown = data;
  for (const token of instancePath.split('/').slice(1)) {
    const key = token.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(current)) {
      where += `[${key}]`;
      current = current[Number(key)];
    } else {
      where += where === '' ? key : `.${key}`;
      current = isRecord(current) && Object.hasOwn(current, key) ? current[key] : undefined;
    }
  }
  return where === '' ? context.rootName : where;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const article = (type: string) => (/^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`);
const plural = (n: number, noun: string, nouns = `${noun}s`) => `${n} ${n === 1 ? noun : nouns}`;

function describe(error: ErrorObject, where: string): string | null {
  const params = error.params as Record<string, unknown>;
  const parent = error.parentSchema as SchemaObject | undefined;
  switch (error.keyword) {
    case 'type':
      return `${where}: must be ${String(params.type).split(',').map(article).join(' or ')}`;
    case 'required':
      return `${where}: "${String(params.missingProperty)}" is required`;
    case 'additionalProperties': {
      const allowed = Object.keys((parent?.properties as object | undefined) ?? {});
      const hint = allowed.length > 0 ? ` (allowed: ${allowed.join(', ')})` : '';
      return `${where}: unknown property "${String(params.additionalProperty)}"${hint}`;
    }
    case 'enum':
      return `${where}: must be one of ${(params.allowedValues as unknown[]).map(String).join(', ')}`;
    case 'const':
      return `${where}: must be ${JSON.stringify(params.allowedValue)}`;
    case 'minimum':
      return `${where}: must be at least ${String(params.limit)}`;
    case 'maximum':
      return `${where}: must be at most ${String(params.limit)}`;
    case 'minLength':
      return params.limit === 1
        ? `${where}: must not be empty`
        : `${where}: must be at least ${plural(Number(params.limit), 'character')}`;
    case 'maxLength':
      return `${where}: must be at most ${plural(Number(params.limit), 'character')}`;
    case 'minItems':
      return `${where}: must have at least ${plural(Number(params.limit), 'item')}`;
    case 'maxItems':
      return `${where}: must have at most ${plural(Number(params.limit), 'item')}`;
    case 'minProperties':
      return `${where}: must have at least ${plural(Number(params.limit), 'entry', 'entries')}`;
    case 'maxProperties':
      return `${where}: must have at most ${plural(Number(params.limit), 'entry', 'entries')}`;
    case 'propertyNames':
      // ajv reports the failing name once more at this level; the nested error already said why.
      return null;
    case 'pattern': {
      // Schemas put the human form of a pattern in `description`; the raw regular expression is the fallback.
      const expected =
        typeof parent?.description === 'string' ? `be ${parent.description}` : `match ${String(params.pattern)}`;
      return error.propertyName === undefined
        ? `${where}: must ${expected}`
        : `${where}: key "${error.propertyName}" must ${expected}`;
    }
    default:
      return `${where}: ${error.message ?? 'is invalid'}`;
  }
}
