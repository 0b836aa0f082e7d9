import { writeFile } from 'node:fs/promises';
import { GENERATED_TYPES_PATH, generateTypes } from './generate-types.js';

await writeFile(GENERATED_TYPES_PATH, await generateTypes());
process.stdout.write(`wrote ${GENERATED_TYPES_PATH}\n`);
