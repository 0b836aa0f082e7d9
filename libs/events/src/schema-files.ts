import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SchemaFile } from './avro-to-typescript.js';

/** `<repo>/schemas`, found from the compiled file's place in `dist/libs/events/src/`. */
export const SCHEMAS_DIR = fileURLToPath(new URL('../../../../schemas', import.meta.url));
/** The generated declarations live in the source tree (they are committed), not in dist. */
export const GENERATED_TYPES_FILE = fileURLToPath(
  new URL('../../../../libs/events/src/generated/event-types.ts', import.meta.url),
);

export async function readSchemaFiles(dir: string = SCHEMAS_DIR): Promise<SchemaFile[]> {
  const names = (await readdir(dir)).filter((f) => f.endsWith('.avsc')).sort();
  return Promise.all(
    names.map(async (file) => ({
      name: file.replace(/\.avsc$/, ''),
      schema: JSON.parse(await readFile(join(dir, file), 'utf8')) as unknown,
    })),
  );
}
