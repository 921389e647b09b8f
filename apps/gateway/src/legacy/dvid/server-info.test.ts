import { availableParallelism } from 'node:os';
import { goDuration, goTime, KEYVALUE_TYPE_URL, SERVER_TYPES, serverInfo } from './server-info';

describe('serverInfo', () => {
  const startedAt = new Date('2026-06-22T10:00:00.000Z');
  const now = new Date('2026-06-22T11:02:03.450Z');
  const info = serverInfo({ startedAt, host: 'dvid.example:8000', note: 'a note', version: '0.1.0', now });

  it('is DVID’s flat object of strings, keys in Go’s map order', () => {
    expect(Object.keys(info)).toEqual([
      'Cores',
      'DVID Version',
      'Datastore Version',
      'Host',
      'Maximum Cores',
      'Note',
      'RPC Address',
      'Server time',
      'Server uptime',
      'Storage backend',
      'TOML location',
    ]);
    expect(Object.values(info).every((value) => typeof value === 'string')).toBe(true);
    expect(Object.keys(info)).toEqual(Object.keys(info).sort());
  });

  it('reports our version, DVID’s datastore version, the host, the note and the clock', () => {
    expect(info).toMatchObject({
      Cores: String(availableParallelism()),
      'DVID Version': 'rosetta-0.1.0',
      'Datastore Version': '0.11.0',
      Host: 'dvid.example:8000',
      Note: 'a note',
      'RPC Address': '',
      'Server time': '2026-06-22 11:02:03.45 +0000 UTC',
      'Server uptime': '1h2m3.45s',
      'Storage backend': 'postgres',
      'TOML location': '',
    });
    expect(Number(info['Maximum Cores'])).toBeGreaterThanOrEqual(1);
  });

  it('reads the clock when not given one', () => {
    const live = serverInfo({ startedAt: new Date(), host: 'h', note: '', version: 'v' });
    expect(live['Server time']).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})? \+0000 UTC$/);
    expect(live['Server uptime']).toMatch(/^(0s|\d+ms)$/);
  });
});

describe('goTime', () => {
  it.each([
    ['2026-01-02T03:04:05.000Z', '2026-01-02 03:04:05 +0000 UTC'],
    ['2026-01-02T03:04:05.100Z', '2026-01-02 03:04:05.1 +0000 UTC'],
    ['2026-12-31T23:59:59.007Z', '2026-12-31 23:59:59.007 +0000 UTC'],
  ])('formats %s as Go’s Time.String()', (iso, text) => {
    expect(goTime(new Date(iso))).toBe(text);
  });
});

describe('goDuration', () => {
  it.each([
    [0, '0s'],
    [-5, '0s'],
    [1, '1ms'],
    [999, '999ms'],
    [1000, '1s'],
    [1500, '1.5s'],
    [1010, '1.01s'],
    [60_000, '1m0s'],
    [61_001, '1m1.001s'],
    [3_600_000, '1h0m0s'],
    [90_061_000, '25h1m1s'],
  ])('formats %d ms as Go’s Duration.String() (%s)', (ms, text) => {
    expect(goDuration(ms)).toBe(text);
  });
});

describe('SERVER_TYPES', () => {
  it('lists keyvalue under DVID’s type URL', () => {
    expect(SERVER_TYPES).toEqual({ keyvalue: 'github.com/janelia-flyem/dvid/datatype/keyvalue' });
    expect(JSON.stringify(SERVER_TYPES)).toBe(`{"keyvalue":"${KEYVALUE_TYPE_URL}"}`);
  });
});
