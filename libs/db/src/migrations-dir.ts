import { fileURLToPath } from 'node:url';

/** `<repo>/migrations`, found from the compiled file's place in `dist/libs/db/src/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations', import.meta.url));
