import type avro from 'avsc';

/** Confluent wire format: a magic byte (0), the schema id (int32, big-endian), then the Avro body. */
const HEADER_BYTES = 5;
/** Bodies this size or smaller are guessed from the last one's; Node's pool hands out up to 4 KiB slices. */
const POOLED_BODY_BYTES = (Buffer.poolSize >>> 1) - HEADER_BYTES;

/**
 * Encodes a topic's events in the Confluent wire format straight into one buffer from Node's pool. The registry
 * client's own encode gives each event three allocations and a copy (the Avro body and the schema id each in a
 * zero-filled ArrayBuffer of their own, then both concatenated): per event on the run path, for every event of it.
 * The buffer is sized by the last body's length and the body written again, exactly sized, when it was too small.
 */
export class WireEncoder {
  private lastBodyBytes = 256;

  constructor(
    readonly schemaId: number,
    private readonly type: avro.Type,
  ) {}

  /** Throws what avsc throws for a value the schema does not fit. */
  encode(value: unknown): Buffer {
    let bodyBytes = Math.min(this.lastBodyBytes, POOLED_BODY_BYTES);
    for (;;) {
      const buffer = Buffer.allocUnsafe(HEADER_BYTES + bodyBytes);
      buffer.writeUInt8(0, 0);
      buffer.writeInt32BE(this.schemaId, 1);
      const end = this.type.encode(value, buffer, HEADER_BYTES);
      if (end >= 0) {
        this.lastBodyBytes = end - HEADER_BYTES;
        return buffer.subarray(0, end);
      }
      // avsc returns minus the bytes that were missing.
      bodyBytes -= end;
    }
  }
}
