import type { ScannedRecord } from '../services/ports';
import type { ScanChunk } from '../services/record-service';
import { scanMessages } from './scan-messages';

const record = (key: string, bytes: number | undefined): ScannedRecord => ({
  key,
  value: bytes === undefined ? undefined : new Uint8Array(bytes),
  contentType: 'application/octet-stream',
  created: 1,
  updated: 1,
  revision: 1,
  createdRevision: 1,
  size: bytes ?? 0,
});

const page = (records: ScannedRecord[], done: boolean, nextCursor = ''): ScanChunk => ({ records, done, nextCursor });
const keysOf = (messages: ScanChunk[]) => messages.map((m) => m.records.map((r) => r.key));

describe('scanMessages', () => {
  it('cuts a page where the keys and values reach the budget, and only the last message ends the page', () => {
    // Each record counts 1 byte of key and 99 of value: 100 bytes, so 3 reach a budget of 300.
    const records = Array.from({ length: 8 }, (_, i) => record(String(i), 99));
    const messages = [...scanMessages(page(records, true, 'next'), 300)];
    expect(keysOf(messages)).toEqual([
      ['0', '1', '2'],
      ['3', '4', '5'],
      ['6', '7'],
    ]);
    expect(messages.map((m) => [m.done, m.nextCursor])).toEqual([
      [false, ''],
      [false, ''],
      [true, 'next'],
    ]);
  });

  it('passes a page that fits as it is, an empty one included', () => {
    const small = page([record('a', 10), record('b', 10)], false);
    expect([...scanMessages(small, 300)]).toEqual([small]);
    const empty = page([], true);
    expect([...scanMessages(empty, 300)]).toEqual([empty]);
  });

  it('cuts after the record that reaches the budget, however large, and never leaves an empty message last', () => {
    const messages = [...scanMessages(page([record('a', 10), record('big', 5000), record('c', 10)], true), 300)];
    expect(keysOf(messages)).toEqual([['a', 'big'], ['c']]);
    const exact = [...scanMessages(page([record('a', 99), record('b', 99), record('c', 99)], false), 300)];
    expect(keysOf(exact)).toEqual([['a', 'b', 'c']]);
    expect(exact[0]!.done).toBe(false);
  });

  it('counts keys alone in a keys-only page', () => {
    const keys = Array.from({ length: 5 }, (_, i) => record(`key-${'x'.repeat(95)}${i}`, undefined));
    expect(keysOf([...scanMessages(page(keys, true), 300)]).map((m) => m.length)).toEqual([3, 2]);
  });
});
