import { Code, type Client } from '@connectrpc/connect';
import { wireError, type RecordService } from '@rosetta/proto';
import { addApiCall, RequestTiming, runWithTiming } from '../http/server-timing';
import { RecordWriter, type Entry } from './record-writer';
import type { CallerHeaders } from './turn-batcher';

/**
 * Server-Timing of coalesced writes: a fake record service that reports each call's timing as
 * the transport would (addApiCall, in the async context the call was made in).
 */

const a = { space: 's', collection: 'a' };
const b = { space: 's', collection: 'b' };
const alice: CallerHeaders = { grant: 'ga', headers: { 'rosetta-grant': 'ga' } };

const entry = (key: string): Entry => ({
  key,
  value: Buffer.from(key),
  contentType: 'text/plain',
  condition: undefined,
});

/** A record service whose BatchPut refuses a batch holding `refusedKey`, as a value over the limit is. */
function fakeRecords(calls: string[], refusedKey?: string) {
  const answer = async (method: string, keys: readonly string[], dbMs: number) => {
    calls.push(`${method} ${keys.join(',')}`);
    await new Promise((resolve) => setImmediate(resolve));
    addApiCall(`db;dur=${dbMs}, cache;dur=0.5`, dbMs + 1);
  };
  const written = (key: string) => ({ key, revision: 7n, createdRevision: 7n });
  return {
    async putRecord({ key }: { key: string }) {
      await answer('put', [key], 2);
      if (key === refusedKey) throw wireError(Code.InvalidArgument, 'VALUE_TOO_LARGE', 'too large');
      return { record: written(key), created: true };
    },
    async batchPut({ entries }: { entries: Entry[] }) {
      const keys = entries.map((e) => e.key);
      await answer('batch', keys, 4);
      if (refusedKey !== undefined && keys.includes(refusedKey)) {
        throw wireError(Code.InvalidArgument, 'VALUE_TOO_LARGE', 'too large');
      }
      return { records: keys.map(written) };
    },
  } as unknown as Client<typeof RecordService>;
}

/** Writes `key` to `collection` as a request measured by `timing`; its timing's calls when answered. */
async function writeAs(writer: RecordWriter, timing: RequestTiming, collection: typeof a, key: string) {
  try {
    await runWithTiming(timing, () => writer.put(alice, collection, entry(key)));
    return { key, calls: timing.calls };
  } catch {
    return { key, calls: timing.calls, refused: true };
  }
}

describe('RecordWriter with Server-Timing on', () => {
  it('adds a batch call to every write it carried, before they get their answer', async () => {
    const calls: string[] = [];
    const writer = new RecordWriter(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    const answers = await Promise.all([writeAs(writer, first, a, 'k1'), writeAs(writer, second, a, 'k2')]);
    expect(calls).toEqual(['batch k1,k2']);
    expect(answers).toEqual([
      { key: 'k1', calls: 1 },
      { key: 'k2', calls: 1 },
    ]);
    for (const timing of [first, second]) expect({ ...timing }).toEqual({ db: 4, cache: 0.5, api: 5, calls: 1 });
  });

  it("adds each call to its own writes only, though one turn's calls go out in one context", async () => {
    const calls: string[] = [];
    const writer = new RecordWriter(fakeRecords(calls), { serverTiming: true });
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([writeAs(writer, first, a, 'k1'), writeAs(writer, second, b, 'k2')]);
    expect(calls).toEqual(['put k1', 'put k2']);
    expect({ ...first }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
    expect({ ...second }).toEqual({ db: 2, cache: 0.5, api: 3, calls: 1 });
  });

  it('adds a refused batch and each write retried alone to that write', async () => {
    const calls: string[] = [];
    const writer = new RecordWriter(fakeRecords(calls, 'bad'), { serverTiming: true });
    const good = new RequestTiming();
    const bad = new RequestTiming();
    const answers = await Promise.all([writeAs(writer, good, a, 'ok'), writeAs(writer, bad, a, 'bad')]);
    expect(calls).toEqual(['batch ok,bad', 'put ok', 'put bad']);
    expect(answers).toEqual([
      { key: 'ok', calls: 2 },
      { key: 'bad', calls: 2, refused: true },
    ]);
    for (const timing of [good, bad]) expect({ ...timing }).toEqual({ db: 6, cache: 1, api: 8, calls: 2 });
  });
});

describe('RecordWriter with Server-Timing off', () => {
  it('makes its calls in the context the turn flushes in, measuring nothing itself', async () => {
    const calls: string[] = [];
    const writer = new RecordWriter(fakeRecords(calls));
    const first = new RequestTiming();
    const second = new RequestTiming();
    await Promise.all([writeAs(writer, first, a, 'k1'), writeAs(writer, second, a, 'k2')]);
    expect(calls).toEqual(['batch k1,k2']);
    // The batch went out in the first request's context; no sharing without the setting.
    expect([first.calls, second.calls]).toEqual([1, 0]);
  });
});
