import { z } from 'zod';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A resource id in a path: anything but a uuid cannot name one, so it is "not found" rather than malformed. */
export const idParam = (what: string) =>
  z
    .string()
    .regex(UUID, { error: `no ${what}` })
    .transform((id) => id.toLowerCase())
    .meta({ description: `The ${what}'s id.`, format: 'uuid' });

/** A uuid in a query string (a filter): malformed when it is not one. */
export const uuidQuery = (description: string) =>
  z
    .string()
    .regex(UUID, { error: 'must be a uuid' })
    .transform((id) => id.toLowerCase())
    .meta({ description, format: 'uuid' });

export const uuid = z.string().meta({ format: 'uuid' });
export const timestamp = z.string().meta({ format: 'date-time' });

/** Page size of the list endpoints. */
export const limitQuery = z.coerce
  .number({ error: 'must be an integer from 1 to 1000' })
  .int({ error: 'must be an integer from 1 to 1000' })
  .min(1, { error: 'must be an integer from 1 to 1000' })
  .max(1000, { error: 'must be an integer from 1 to 1000' })
  .default(100)
  .meta({ description: 'Items per page (1 to 1000).' });

/** The `next` link of a page: its path and query, or null on the last page. */
export const nextLink = z
  .string()
  .nullable()
  .meta({ description: 'The next page (path and query), or null on the last page.' });

/** Visible ASCII, 1 to 255 characters: what clients put in Idempotency-Key in practice (UUIDs, ULIDs, hashes). */
export const idempotencyHeaders = z.object({
  'idempotency-key': z
    .string()
    .regex(/^[\x21-\x7e]{1,255}$/, { error: 'must be 1 to 255 visible ASCII characters' })
    .optional()
    .meta({
      description: 'Repeating a request with the same key answers with the first result instead of doing it again.',
    }),
});

/** A position in the primary's write-ahead log, as Postgres prints it (`0/16B3748`). */
const consistencyToken = z.string().regex(/^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/, {
  error: 'must be a Consistency-Token as a write answered it (such as 0/16B3748)',
});

/** Read-your-writes on the reads a replica may serve: the token of the caller's last write. */
export const consistencyHeaders = z.object({
  'consistency-token': consistencyToken.optional().meta({
    description:
      'The Consistency-Token a write answered with: the read then sees that write (and every earlier one), even ' +
      'when the API reads from a replica that has not replayed it yet.',
  }),
});

/** What a write answers with when the API reads from a replica. */
export const writeConsistencyHeaders = z.object({
  'consistency-token': consistencyToken.optional().meta({
    description:
      'Present when the API reads from a replica (DATABASE_READ_URL): send it back as Consistency-Token on reads ' +
      'that must see this write.',
  }),
});

/** Run tags label metrics (workflows_started_total{tag}), so they stay short and few. */
export const TAG_PATTERN = /^[A-Za-z0-9_.-]{1,64}$/;
export const tag = z.string().regex(TAG_PATTERN, { error: 'must be 1 to 64 characters of A-Z, a-z, 0-9, _, ., -' });
