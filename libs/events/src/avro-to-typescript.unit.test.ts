import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import avro from 'avsc';
import { topicCatalog } from '#libs/kafka';
import { avroToTypeScript } from './avro-to-typescript.js';
import { GENERATED_TYPES_FILE, readSchemaFiles } from './schema-files.js';

describe('event types generated from schemas/', () => {
  it('are up to date with the .avsc files (run `npm run schemas:gen` after changing a schema)', async () => {
    const expected = avroToTypeScript(await readSchemaFiles());
    const committed = await readFile(GENERATED_TYPES_FILE, 'utf8');
    assert.equal(committed, expected);
  });

  it('every topic with a value schema has a valid Avro schema file', async () => {
    const schemas = new Map((await readSchemaFiles()).map((s) => [s.name, s.schema]));
    for (const topic of topicCatalog({ partitions: 1, replicationFactor: 1 })) {
      if (!topic.valueSchema) continue;
      const schema = schemas.get(topic.valueSchema);
      assert.ok(schema, `${topic.name} needs schemas/${topic.valueSchema}.avsc`);
      assert.doesNotThrow(() => avro.Type.forSchema(schema as avro.Schema), topic.valueSchema);
    }
  });

  it('maps records, enums, arrays, maps, nullable unions and the type literal', () => {
    const source = avroToTypeScript([
      {
        name: 'sample',
        schema: {
          type: 'record',
          name: 'a.b.Sample',
          doc: 'A sample.',
          fields: [
            { name: 'type', type: 'string', default: 'sample.happened' },
            { name: 'count', type: 'long' },
            { name: 'color', type: { type: 'enum', name: 'Color', symbols: ['red', 'blue'] } },
            { name: 'tags', type: { type: 'array', items: 'string' } },
            { name: 'attrs', type: { type: 'map', values: 'int' } },
            { name: 'note', type: ['null', 'string'], default: null },
            { name: 'child', type: { type: 'record', name: 'Child', fields: [{ name: 'ok', type: 'boolean' }] } },
            { name: 'again', type: 'Child' },
          ],
        },
      },
    ]);
    assert.match(source, /export const ColorValues = \["red", "blue"\] as const;/);
    assert.match(source, /export type Color = \(typeof ColorValues\)\[number\];/);
    assert.match(source, /export interface Child \{\n {2}readonly ok: boolean;\n\}/);
    assert.match(source, /readonly type: "sample\.happened";/);
    assert.match(source, /readonly count: number;/);
    assert.match(source, /readonly tags: Array<string>;/);
    assert.match(source, /readonly attrs: Record<string, number>;/);
    assert.match(source, /readonly note: null \| string;/);
    assert.match(source, /readonly again: Child;/);
    assert.match(source, /"sample": Sample;/);
  });

  it('refuses Avro it does not understand instead of guessing', () => {
    assert.throws(
      () => avroToTypeScript([{ name: 'x', schema: { type: 'mystery' } }]),
      /unsupported Avro type "mystery"/,
    );
  });
});
