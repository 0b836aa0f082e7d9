import { fileURLToPath } from 'node:url';

/** `<repo>/migrations`, found from the compiled file's place in `dist/libs/db/src/`. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations', import.meta.url));

/** `<repo>/migrations/vector`: the semantic cache's database (Postgres with pgvector, VECTOR_DATABASE_URL). */
export const VECTOR_MIGRATIONS_DIR = fileURLToPath(new URL('../../../../migrations/vector', import.meta.url));
