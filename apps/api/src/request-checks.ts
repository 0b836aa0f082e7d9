import { createHash } from 'node:crypto';

/** What an Idempotency-Key's first request is remembered by: a repeat with another body is refused. */
export const hashBody = (body: unknown): string => createHash('sha256').update(JSON.stringify(body)).digest('hex');
