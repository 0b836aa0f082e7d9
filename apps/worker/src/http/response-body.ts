/** A response body read up to a bound: `complete` is false when the body had more bytes than were kept. */
export interface BoundedBody {
  bytes: Buffer;
  complete: boolean;
}

/**
 * Reads at most `limit` bytes and then stops reading: leaving the loop destroys the stream, so an endless or huge
 * body costs no more than the bound (plus one chunk) in memory and no more time than it takes to receive that much.
 */
export async function readBounded(body: AsyncIterable<Buffer>, limit: number): Promise<BoundedBody> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const room = limit - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      return { bytes: Buffer.concat(chunks), complete: false };
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { bytes: Buffer.concat(chunks), complete: true };
}

/** A JSON body parsed (null when empty), anything else as text in the charset the content-type names. */
export function decodeBody(
  bytes: Buffer,
  contentType: string | undefined,
): { ok: true; body: unknown } | { ok: false } {
  const text = decodeText(bytes, contentType);
  if (!isJson(contentType)) return { ok: true, body: text };
  if (text.trim() === '') return { ok: true, body: null };
  try {
    return { ok: true, body: JSON.parse(text) as unknown };
  } catch {
    return { ok: false };
  }
}

export function decodeText(bytes: Buffer, contentType: string | undefined): string {
  const charset = /;\s*charset="?([^";\s]+)/i.exec(contentType ?? '')?.[1];
  try {
    return new TextDecoder(charset ?? 'utf-8').decode(bytes);
  } catch {
    // A charset TextDecoder does not know: UTF-8 is the most likely to be right.
    return new TextDecoder().decode(bytes);
  }
}

/** `application/json`, `application/problem+json`, `text/json`, with or without parameters. */
function isJson(contentType: string | undefined): boolean {
  return /^[\w.-]+\/([\w.-]+\+)?json\s*(;|$)/i.test(contentType ?? '');
}

/** The first of a header's values (undici gives repeated headers as an array). */
export function firstValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
