import { createHash, randomBytes } from 'node:crypto';

/** Keys are stored only as sha256 digests; a leaked table does not leak usable keys. */
export const hashApiKey = (key: string): Buffer => createHash('sha256').update(key, 'utf8').digest();

/** 32 random bytes; the `ok_` prefix makes keys recognisable to secret scanners. */
export const generateApiKey = (): string => `ok_${randomBytes(32).toString('base64url')}`;

/** What may be shown of a key after creation (logs, listings). */
export const keyPrefix = (key: string): string => key.slice(0, 10);
