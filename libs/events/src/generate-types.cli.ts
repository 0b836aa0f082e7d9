import { writeFile } from 'node:fs/promises';
import { avroToTypeScript } from './avro-to-typescript.js';
import { GENERATED_TYPES_FILE, readSchemaFiles } from './schema-files.js';

await writeFile(GENERATED_TYPES_FILE, avroToTypeScript(await readSchemaFiles()));
process.stdout.write(`wrote ${GENERATED_TYPES_FILE}\n`);
