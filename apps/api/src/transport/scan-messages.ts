import type { ScanChunk } from '../services/record-service';

/**
 * About how many bytes of keys and values one scan message carries. A page read from Postgres
 * holds up to `SCAN_PAGE_ROWS` records (100 by default); sent as one message, 200 records of 1 KiB
 * made a 250 KB message, four times a stream's HTTP/2 window (64 KiB, @rosetta/proto windows.ts). It
 * waited in the api for four window updates while the gateway worked through the other streams,
 * and the gateway gathered it whole before reading any of it: under 64 concurrent listings both
 * processes held (and promoted into V8's old generation) several such buffers per stream. A
 * message of this size leaves at once and is read at once.
 */
export const SCAN_MESSAGE_BYTES = 48 * 1024;

/**
 * A scan's page as the messages that carry it: the records in order, cut wherever the keys and
 * values so far reach `budget` bytes (one record at least, however large). Only the last
 * message carries the page's `done` and `nextCursor`; the others say "more follows".
 */
export function* scanMessages(chunk: ScanChunk, budget = SCAN_MESSAGE_BYTES): Generator<ScanChunk> {
  const { records } = chunk;
  let start = 0;
  let bytes = 0;
  for (let i = 0; i < records.length; i++) {
    const record = records[i]!;
    bytes += record.key.length + (record.value?.byteLength ?? 0);
    if (bytes >= budget && i + 1 < records.length) {
      yield { records: records.slice(start, i + 1), done: false, nextCursor: '' };
      start = i + 1;
      bytes = 0;
    }
  }
  yield start === 0 ? chunk : { records: records.slice(start), done: chunk.done, nextCursor: chunk.nextCursor };
}
