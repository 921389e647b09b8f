import type { Client } from '@connectrpc/connect';
import type { RecordService } from '@rosetta/proto';
import { addApiCall, RequestTiming, runWithTiming } from '../http/server-timing';
import { RecordReader } from './record-reader';
import type { CallerHeaders } from './turn-batcher';

/**
 * Server-Timing of coalesced reads: a fake record service that reports each call's timing as
 * the transport would (addApiCall, in the async context the call was made in).
 */

const a = { space: 's', collection: 'a' };
const b = { space: 's', collection: 'b' };
const alice: CallerHeaders = { grant: 'ga', headers: { 'rosetta-grant': 'ga' } };

function fakeRecords(calls: string[]) {
  const answer = async (method: string, keys: readonly string[], dbMs: number) => {
    calls.push(`${method} ${keys.join(',')}`);
    await new Promise((resolve) => setImmediate(resolve));
    addApiCall(`db;dur=${dbMs}, cache;dur=0.5`, dbMs + 1);
  };
  return {
    async getRecord({ key }: { key: string }) {
      await answer('get', [key], 2);
      return { record: { key } };
    },
    async batchGet({ keys }: { keys: string[] }) {
      await answer('batch', keys, 4);
      return { results: keys.map((key) => ({ record: { key } })) };
    },
  } as unknown as Client<typeof RecordService>;
}

/** Reads `key` of `collection` as a request measured by `timing`. */
const readAs = (reader: RecordReader, timing: RequestTiming, collection: typeof a, key: string) =>
  runWithTiming(timing, () => reader.get(alice, collection, key));

describe('RecordReader with Server-Timing on', () => {
  it('adds a batch call to every request it served, before they get their answer', async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    const seenWithAnswer: number[] = [];
    await Promise.all(
      [
        [first, 'k1'],
        [second, 'k2'],
      ].map(async ([timing, key]) => {
        const record = await readAs(reader, timing as RequestTiming, a, key as string);
        expect(record?.key).toBe(key);
        seenWithAnswer.push((timing as RequestTiming).calls);
      }),
    );
    expect(calls).toEqual(['batch k1,k2']);
    expect(seenWithAnswer).toEqual([1, 1]);
    for (const timing of [first, second]) expect({ ...timing }).toEqual({ db: 4, cache: 0.5, api: 5, calls: 1 });
  });

  it("adds each call to its own requests only, though one turn's calls go out in one context", async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([readAs(reader, first, a, 'k1'), readAs(reader, second, b, 'k2')]);
    expect(calls).toEqual(['get k1', 'get k2']);
    expect({ ...first }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
    expect({ ...second }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
  });

  it('adds a failed call too', async () => {
    const failing = {
      async getRecord() {
        await new Promise((resolve) => setImmediate(resolve));
        addApiCall('db;dur=1, cache;dur=0', 2);
        throw new Error('no');
      },
    } as unknown as Client<typeof RecordService>;
    const reader = new RecordReader(failing, { serverTiming: true });
    const timing = new RequestTiming();
    await expect(readAs(reader, timing, a, 'k')).rejects.toThrow('no');
    expect({ ...timing }).toEqual({ db: 1, cache: 0, api: 2, calls: 1 });
  });
});

describe('RecordReader with Server-Timing off', () => {
  it('makes its calls in the context the turn flushes in, measuring nothing itself', async () => {
    const calls: string[] = [];
    const reader = new RecordReader(fakeRecords(calls));
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([readAs(reader, first, a, 'k1'), readAs(reader, second, a, 'k2')]);
    expect(calls).toEqual(['batch k1,k2']);
    // The batch went out in the first request's context; no sharing without the setting.
    expect([first.calls, second.calls]).toEqual([1, 0]);
  });
});
