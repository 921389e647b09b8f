import { create } from '@bufbuild/protobuf';
import { RecordSchema, type Record as RecordMessage } from '@rosetta/proto';
import { parseRevocation } from './lease-bus';
import { LeaseCache, type LeaseCacheOptions } from './lease-cache';

/** The clock every cache here reads: tests move it by hand. */
let clock = 0;
const LEASE_MS = 1_000;

function leaseCache(options: Partial<LeaseCacheOptions> = {}, resumed = true): LeaseCache {
  const cache = new LeaseCache({
    maxBytes: 1 << 20,
    maxValueBytes: 1024,
    maxLeaseMs: 10_000,
    now: () => clock,
    ...options,
  });
  if (resumed) cache.resume();
  return cache;
}

const record = (key: string, value: string | Uint8Array = `value of ${key}`, revision = 1n): RecordMessage =>
  create(RecordSchema, {
    key,
    value: typeof value === 'string' ? new TextEncoder().encode(value) : value,
    contentType: 'text/plain',
    revision,
    size: BigInt(value.length),
  });

/** Installs `rec` for `grant` in s/a, read with a ticket taken now and sent now. */
function installNow(cache: LeaseCache, grant: string, rec: RecordMessage, name = 'a', space = 's'): void {
  cache.install(cache.ticket(), clock, LEASE_MS, grant, space, name, rec);
}

const text = (rec: RecordMessage | undefined) => (rec === undefined ? undefined : new TextDecoder().decode(rec.value));

/** The bytes one entry with a key of `keyLength` and a value of `valueLength` counts for. */
function entryBytes(keyLength: number, valueLength: number): number {
  const probe = leaseCache();
  installNow(probe, 'g', record('k'.repeat(keyLength), 'v'.repeat(valueLength)));
  return probe.size.bytes;
}

beforeEach(() => {
  clock = 1_000;
});

describe('LeaseCache', () => {
  it('misses before anything is installed', () => {
    const cache = leaseCache();
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });

  it('installs nothing until the revocations are listened to', () => {
    const cache = leaseCache({}, false);
    expect(cache.available).toBe(false);
    installNow(cache, 'ga', record('k1'));
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.size.entries).toBe(0);

    cache.resume();
    expect(cache.available).toBe(true);
    installNow(cache, 'ga', record('k1'));
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('value of k1');
  });

  it('answers the grant that installed a record, and no other grant, key or collection', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1', 'one', 7n));
    const held = cache.get('ga', 's', 'a', 'k1');
    expect(held?.key).toBe('k1');
    expect(held?.revision).toBe(7n);
    expect(held?.contentType).toBe('text/plain');
    expect(text(held)).toBe('one');
    expect(cache.get('gb', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.get('ga', 's', 'a', 'k2')).toBeUndefined();
    expect(cache.get('ga', 's', 'b', 'k1')).toBeUndefined();
    expect(cache.get('ga', 't', 'a', 'k1')).toBeUndefined();
  });

  it('answers until 95% of the lease after the read was sent, counted from the send', () => {
    const cache = leaseCache();
    const sentAt = 1_000;
    clock = 1_200; // the answer arrives later than it was sent
    cache.install(cache.ticket(), sentAt, LEASE_MS, 'ga', 's', 'a', record('k1'));
    clock = sentAt + 0.95 * LEASE_MS - 0.001;
    expect(cache.get('ga', 's', 'a', 'k1')).toBeDefined();
    clock = sentAt + 0.95 * LEASE_MS;
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    clock = sentAt + LEASE_MS;
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
  });

  it('asks one caller at a time to renew a lease once three quarters of it are gone', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1'));
    // Renewal is due at 75% of the 95% counted: 712.5 ms after the send.
    clock += 712;
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(false);
    clock += 1;
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(true);
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(false);
    expect(cache.claimRenewal('gb', 's', 'a', 'k1')).toBe(false);
    expect(cache.claimRenewal('ga', 's', 'a', 'k2')).toBe(false);
    // A renewal that did not come back is asked for again 100 ms later.
    clock += 100;
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(true);
    // A renewal that came back moves both the end and the next renewal.
    installNow(cache, 'ga', record('k1'));
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(false);
    clock += 700;
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('value of k1');
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(false);
    clock += 13;
    expect(cache.claimRenewal('ga', 's', 'a', 'k1')).toBe(true);
  });

  it('keeps nothing whose lease already ran out when it arrives', () => {
    const cache = leaseCache();
    clock = 1_000 + 0.95 * LEASE_MS;
    cache.install(cache.ticket(), 1_000, LEASE_MS, 'ga', 's', 'a', record('k1'));
    expect(cache.size.entries).toBe(0);
  });

  it('drops revoked records and refuses reads of them ticketed before the revocation', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1'));
    installNow(cache, 'ga', record('k2'));
    const before = cache.ticket();

    cache.revoke({ kind: 'records', space: 's', name: 'a', keys: ['k1'] });
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(text(cache.get('ga', 's', 'a', 'k2'))).toBe('value of k2');
    expect(cache.size.entries).toBe(1);

    // The answer may predate the write that revoked it.
    cache.install(before, clock, LEASE_MS, 'ga', 's', 'a', record('k1', 'stale'));
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    // The revocation named k1 only.
    cache.install(before, clock, LEASE_MS, 'ga', 's', 'a', record('k3'));
    expect(text(cache.get('ga', 's', 'a', 'k3'))).toBe('value of k3');
    // A read sent after the revocation saw the write.
    cache.install(cache.ticket(), clock, LEASE_MS, 'ga', 's', 'a', record('k1', 'fresh', 2n));
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('fresh');
  });

  it('remembers a revocation for as long as a read sent before it could hold a lease', () => {
    const cache = leaseCache({ maxLeaseMs: 10_000 });
    const before = cache.ticket();
    cache.revoke({ kind: 'records', space: 's', name: 'a', keys: ['k1'] });
    // A later revocation forgets older ones; not this one, the read's lease would still be alive.
    clock += 9_000;
    cache.revoke({ kind: 'records', space: 's', name: 'a', keys: ['k2'] });
    cache.install(before, 1_000, 10_000, 'ga', 's', 'a', record('k1'));
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();

    // Forgotten, it still refuses that read: its lease is over.
    clock += 20_000;
    cache.revoke({ kind: 'records', space: 's', name: 'a', keys: ['k2'] });
    cache.install(before, 1_000, 10_000, 'ga', 's', 'a', record('k1'));
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.size.entries).toBe(0);
  });

  it('drops every record of a revoked collection, and only of that collection', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1'), 'a');
    installNow(cache, 'gb', record('k2'), 'a');
    installNow(cache, 'ga', record('k1'), 'b');
    installNow(cache, 'ga', record('k1'), 'a', 't');
    installNow(cache, 'ga', record('k1'), 'ab');
    const before = cache.ticket();

    cache.revoke({ kind: 'collection', space: 's', name: 'a' });
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.get('gb', 's', 'a', 'k2')).toBeUndefined();
    expect(cache.get('ga', 's', 'b', 'k1')).toBeDefined();
    expect(cache.get('ga', 't', 'a', 'k1')).toBeDefined();
    expect(cache.get('ga', 's', 'ab', 'k1')).toBeDefined();
    expect(cache.size.entries).toBe(3);

    cache.install(before, clock, LEASE_MS, 'ga', 's', 'a', record('k3'));
    expect(cache.get('ga', 's', 'a', 'k3')).toBeUndefined();
    cache.install(before, clock, LEASE_MS, 'ga', 's', 'b', record('k3'));
    expect(cache.get('ga', 's', 'b', 'k3')).toBeDefined();
    cache.install(cache.ticket(), clock, LEASE_MS, 'ga', 's', 'a', record('k3'));
    expect(cache.get('ga', 's', 'a', 'k3')).toBeDefined();
  });

  it('drops everything on suspend and refuses reads ticketed before it, even after resuming', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1'));
    installNow(cache, 'gb', record('k2'), 'b');
    const before = cache.ticket();

    cache.suspend();
    expect(cache.available).toBe(false);
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();

    cache.resume();
    cache.install(before, clock, LEASE_MS, 'ga', 's', 'a', record('k1'));
    cache.install(before, clock, LEASE_MS, 'ga', 's', 'c', record('k9'));
    expect(cache.size.entries).toBe(0);
    cache.install(cache.ticket(), clock, LEASE_MS, 'ga', 's', 'a', record('k1'));
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('value of k1');
  });

  it('replaces a record with a newer revision of it', () => {
    const cache = leaseCache();
    installNow(cache, 'ga', record('k1', 'old', 1n));
    installNow(cache, 'gb', record('k1', 'newer', 2n));
    expect(cache.get('gb', 's', 'a', 'k1')?.revision).toBe(2n);
    expect(text(cache.get('gb', 's', 'a', 'k1'))).toBe('newer');
    // The grants that read the old revision were not let read the new one.
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 1, bytes: entryBytes(2, 5) });

    installNow(cache, 'gb', record('k1', 'newest', 3n));
    expect(text(cache.get('gb', 's', 'a', 'k1'))).toBe('newest');
    expect(cache.size).toEqual({ entries: 1, bytes: entryBytes(2, 6) });
  });

  it('keeps the newer revision when an older one arrives later, extending its reader', () => {
    const cache = leaseCache();
    cache.install(cache.ticket(), 1_000, LEASE_MS, 'ga', 's', 'a', record('k1', 'new', 2n));
    cache.install(cache.ticket(), 1_000, LEASE_MS, 'gb', 's', 'a', record('k1', 'old', 1n));
    expect(text(cache.get('gb', 's', 'a', 'k1'))).toBe('new');
    expect(cache.get('gb', 's', 'a', 'k1')?.revision).toBe(2n);

    // A later read's lease extends ga's past its first one (until 1,950)...
    clock = 1_500;
    cache.install(cache.ticket(), 1_500, LEASE_MS, 'ga', 's', 'a', record('k1', 'old', 1n));
    clock = 2_000;
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('new');
    expect(cache.get('gb', 's', 'a', 'k1')).toBeUndefined();
    // ...and a shorter one (until 2,090) does not cut it back (from 2,450).
    cache.install(cache.ticket(), 1_900, 200, 'ga', 's', 'a', record('k1', 'new', 2n));
    clock = 2_300;
    expect(text(cache.get('ga', 's', 'a', 'k1'))).toBe('new');
    clock = 2_450;
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    expect(cache.size).toEqual({ entries: 1, bytes: entryBytes(2, 3) });
  });

  it('evicts the oldest entries first beyond its byte bound', () => {
    const per = entryBytes(2, 100);
    const cache = leaseCache({ maxBytes: 3 * per });
    for (const key of ['k1', 'k2', 'k3']) installNow(cache, 'ga', record(key, 'v'.repeat(100)));
    expect(cache.size).toEqual({ entries: 3, bytes: 3 * per });

    installNow(cache, 'ga', record('k4', 'v'.repeat(100)));
    expect(cache.size).toEqual({ entries: 3, bytes: 3 * per });
    expect(cache.get('ga', 's', 'a', 'k1')).toBeUndefined();
    for (const key of ['k2', 'k3', 'k4']) expect(cache.get('ga', 's', 'a', key)).toBeDefined();

    installNow(cache, 'ga', record('k5', 'v'.repeat(100)));
    expect(cache.get('ga', 's', 'a', 'k2')).toBeUndefined();
    for (const key of ['k3', 'k4', 'k5']) expect(cache.get('ga', 's', 'a', key)).toBeDefined();
  });

  it('does not keep values larger than maxValueBytes', () => {
    const cache = leaseCache({ maxValueBytes: 16 });
    installNow(cache, 'ga', record('big', 'v'.repeat(17)));
    expect(cache.get('ga', 's', 'a', 'big')).toBeUndefined();
    installNow(cache, 'ga', record('fits', 'v'.repeat(16)));
    expect(cache.get('ga', 's', 'a', 'fits')).toBeDefined();
    expect(cache.size.entries).toBe(1);
  });

  it('does not take leases longer than maxLeaseMs', () => {
    const cache = leaseCache({ maxLeaseMs: 5_000 });
    cache.install(cache.ticket(), clock, 5_001, 'ga', 's', 'a', record('long'));
    expect(cache.get('ga', 's', 'a', 'long')).toBeUndefined();
    cache.install(cache.ticket(), clock, 5_000, 'ga', 's', 'a', record('longest'));
    expect(cache.get('ga', 's', 'a', 'longest')).toBeDefined();
    expect(cache.size.entries).toBe(1);
  });

  it('keeps a copy of the value, not a view of the response it came in', () => {
    const cache = leaseCache();
    const response = new Uint8Array([9, 1, 2, 3, 9]);
    installNow(cache, 'ga', record('k1', response.subarray(1, 4)));
    response.fill(0);
    const held = cache.get('ga', 's', 'a', 'k1');
    expect(held?.value).toEqual(new Uint8Array([1, 2, 3]));
    expect(held?.value.buffer.byteLength).toBe(3);
  });

  it('reports the entries it holds and their bytes', () => {
    const cache = leaseCache();
    const small = entryBytes(2, 10);
    expect(entryBytes(2, 30) - small).toBe(20);

    installNow(cache, 'ga', record('k1', 'v'.repeat(10)));
    expect(cache.size).toEqual({ entries: 1, bytes: small });
    installNow(cache, 'ga', record('k2', 'v'.repeat(30)));
    expect(cache.size).toEqual({ entries: 2, bytes: 2 * small + 20 });
    // Another reader of the same revision adds no entry.
    installNow(cache, 'gb', record('k2', 'v'.repeat(30)));
    expect(cache.size).toEqual({ entries: 2, bytes: 2 * small + 20 });
    cache.revoke({ kind: 'records', space: 's', name: 'a', keys: ['k1'] });
    expect(cache.size).toEqual({ entries: 1, bytes: small + 20 });
    cache.revoke({ kind: 'collection', space: 's', name: 'a' });
    expect(cache.size).toEqual({ entries: 0, bytes: 0 });
  });
});

/** A revocation as the record service sends it (apps/api/src/cache/lease-revoker.ts, encodeRevocation). */
const message = (...fields: string[]) => fields.join('\u0000');

describe('parseRevocation', () => {
  it('reads a revocation of records', () => {
    expect(parseRevocation(message('writer-1', '7', 'r', 's', 'a', 'k1', 'k2'))).toEqual({
      writer: 'writer-1',
      id: '7',
      revocation: { kind: 'records', space: 's', name: 'a', keys: ['k1', 'k2'] },
    });
  });

  it('reads a revocation of a collection', () => {
    expect(parseRevocation(message('writer-1', '8', 'c', 's', 'a'))).toEqual({
      writer: 'writer-1',
      id: '8',
      revocation: { kind: 'collection', space: 's', name: 'a' },
    });
  });

  it('keeps keys holding newlines and bars whole', () => {
    const keys = ['line\nbreak', 'a|b', '|', '\n', 'plain'];
    const parsed = parseRevocation(message('w', '1', 'r', 's', 'a', ...keys));
    expect(parsed?.revocation).toEqual({ kind: 'records', space: 's', name: 'a', keys });

    // And the cache drops exactly those.
    const cache = leaseCache();
    for (const key of [...keys, 'other']) installNow(cache, 'ga', record(key));
    if (parsed !== undefined) cache.revoke(parsed.revocation);
    for (const key of keys) expect(cache.get('ga', 's', 'a', key)).toBeUndefined();
    expect(cache.get('ga', 's', 'a', 'other')).toBeDefined();
  });

  it.each([
    ['an empty message', ''],
    ['a writer alone', 'w'],
    ['no collection', message('w', '1', 'r', 's')],
    ['no space', message('w', '1', 'c')],
    ['an unknown kind', message('w', '1', 'x', 's', 'a', 'k')],
    ['an upper-case kind', message('w', '1', 'C', 's', 'a')],
    ['a collection revocation with keys', message('w', '1', 'c', 's', 'a', 'k')],
    ['another separator', ['w', '1', 'r', 's', 'a', 'k'].join('\n')],
  ])('refuses %s', (_name, raw) => {
    expect(parseRevocation(raw)).toBeUndefined();
  });
});
