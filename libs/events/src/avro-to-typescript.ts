/**
 * Turns the Avro schemas in schemas/ into TypeScript declarations, so an event's type is derived from the schema the
 * registry enforces and the two cannot drift (a unit test regenerates and compares). Covers the Avro subset the
 * schemas use: records, enums, arrays, maps, nullable unions, primitives and logical types on them.
 * A string field named `type` whose default is set becomes that literal: the discriminant of the event union.
 */
type AvroSchema = string | AvroSchema[] | { type: string | AvroSchema; [key: string]: unknown };

interface AvroField {
  name: string;
  type: AvroSchema;
  doc?: string;
  default?: unknown;
}

const PRIMITIVES: Record<string, string> = {
  null: 'null',
  boolean: 'boolean',
  int: 'number',
  long: 'number',
  float: 'number',
  double: 'number',
  bytes: 'Buffer',
  string: 'string',
};

export interface SchemaFile {
  /** File name without `.avsc`, e.g. `patch-created`. */
  readonly name: string;
  readonly schema: unknown;
}

class Generator {
  readonly declarations: string[] = [];
  private readonly declared = new Set<string>();

  typeOf(schema: AvroSchema): string {
    if (typeof schema === 'string') return PRIMITIVES[schema] ?? this.shortName(schema);
    if (Array.isArray(schema)) return schema.map((s) => this.typeOf(s)).join(' | ');
    const { type } = schema;
    if (typeof type !== 'string') return this.typeOf(type);
    switch (type) {
      case 'record':
        return this.record(schema as unknown as { name: string; doc?: string; fields: AvroField[] });
      case 'enum':
        return this.enumeration(schema as unknown as { name: string; symbols: string[] });
      case 'array':
        return `Array<${this.typeOf(schema.items as AvroSchema)}>`;
      case 'map':
        return `Record<string, ${this.typeOf(schema.values as AvroSchema)}>`;
      case 'fixed':
        return 'Buffer';
      default:
        if (type in PRIMITIVES) return PRIMITIVES[type] as string;
        throw new Error(`unsupported Avro type ${JSON.stringify(type)}`);
    }
  }

  private shortName(fullName: string): string {
    return fullName.split('.').pop() as string;
  }

  private record(schema: { name: string; doc?: string; fields: AvroField[] }): string {
    const name = this.shortName(schema.name);
    if (this.declared.has(name)) return name;
    this.declared.add(name);
    const fields = schema.fields.map((field) => {
      const literal = field.name === 'type' && field.type === 'string' && typeof field.default === 'string';
      const tsType = literal ? JSON.stringify(field.default) : this.typeOf(field.type);
      const doc = field.doc ? `  /** ${field.doc} */\n` : '';
      return `${doc}  readonly ${field.name}: ${tsType};`;
    });
    const doc = schema.doc ? `/** ${schema.doc} */\n` : '';
    this.declarations.push(`${doc}export interface ${name} {\n${fields.join('\n')}\n}`);
    return name;
  }

  /** An enum is a value (its symbols, for code that lists or checks them) and the type derived from it. */
  private enumeration(schema: { name: string; symbols: string[] }): string {
    const name = this.shortName(schema.name);
    if (!this.declared.has(name)) {
      this.declared.add(name);
      const symbols = schema.symbols.map((s) => JSON.stringify(s)).join(', ');
      this.declarations.push(
        `export const ${name}Values = [${symbols}] as const;\nexport type ${name} = (typeof ${name}Values)[number];`,
      );
    }
    return name;
  }
}

export function avroToTypeScript(files: SchemaFile[]): string {
  const generator = new Generator();
  const roots = [...files]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((file) => ({ file: file.name, type: generator.typeOf(file.schema as AvroSchema) }));
  return [
    '// Generated from schemas/*.avsc by `npm run schemas:gen`. Do not edit: change the schema and regenerate.',
    '/* eslint-disable */',
    '',
    ...generator.declarations.flatMap((d) => [d, '']),
    '/** Schema file name -> the event type it declares. */',
    'export interface EventsBySchema {',
    ...roots.map((r) => `  ${JSON.stringify(r.file)}: ${r.type};`),
    '}',
    '',
    'export type SchemaName = keyof EventsBySchema;',
    'export type AnyEvent = EventsBySchema[SchemaName];',
    '',
  ].join('\n');
}
