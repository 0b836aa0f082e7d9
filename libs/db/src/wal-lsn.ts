/**
 * Positions in Postgres' write-ahead log (an LSN, printed `16/B374D848`: the high and low 32 bits in hex). A
 * consistency token is the primary's WAL position right after a commit: a replica that has replayed up to it shows
 * that commit and everything before it.
 */

/** What Postgres prints for a pg_lsn, and what clients send back as a consistency token. */
export const LSN_PATTERN = /^[0-9A-Fa-f]{1,8}\/[0-9A-Fa-f]{1,8}$/;

/** The LSN as a number, to compare; undefined for anything that is not one. */
export function parseLsn(text: string | null | undefined): bigint | undefined {
  if (!text || !LSN_PATTERN.test(text)) return undefined;
  const [high, low] = text.split('/') as [string, string];
  return (BigInt(`0x${high}`) << 32n) | BigInt(`0x${low}`);
}

/**
 * Whether a replica that has replayed the WAL up to `replayed` may answer a read that carries `token`. Without a
 * token any replica answers (the reader accepts data a little behind); with one, only a replica that has replayed
 * up to it. An unknown position (not measured yet, or the server is not replaying: promoted, or no replica at all)
 * answers no tokened read.
 */
export function replicaServes(token: bigint | undefined, replayed: bigint | undefined): boolean {
  if (token === undefined) return true;
  return replayed !== undefined && replayed >= token;
}
