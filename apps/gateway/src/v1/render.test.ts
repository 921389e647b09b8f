import { create } from '@bufbuild/protobuf';
import { RecordSchema } from '@rosetta/proto';
import { valueAsText } from '@rosetta/core';
import { recordJson, recordPath } from './render';

const record = (contentType: string, value: Uint8Array) =>
  create(RecordSchema, {
    key: 'k',
    value,
    contentType,
    createdUs: 1_730_802_030_123_456n,
    updatedUs: 1_730_802_031_000_001n,
    revision: 9n,
    createdRevision: 3n,
    size: BigInt(value.byteLength),
  });

describe('recordJson', () => {
  it('shows textual values as UTF-8 and keeps microseconds', () => {
    expect(recordJson(record('text/plain', Buffer.from('héllo')), true)).toEqual({
      key: 'k',
      value: 'héllo',
      encoding: 'utf8',
      contentType: 'text/plain',
      size: 6,
      revision: 9,
      createdRevision: 3,
      created: '2024-11-05T10:20:30.123456Z',
      updated: '2024-11-05T10:20:31.000001Z',
    });
  });

  it('falls back to Base64 for binary types and for invalid UTF-8', () => {
    expect(recordJson(record('application/octet-stream', Buffer.from('hi')), true)).toMatchObject({
      value: 'aGk=',
      encoding: 'base64',
    });
    expect(recordJson(record('text/plain', Buffer.from([0xff, 0xfe])), true)).toMatchObject({
      value: '//4=',
      encoding: 'base64',
    });
  });

  it('leaves the value out for keys-only listings', () => {
    expect(recordJson(record('text/plain', Buffer.from('x')), false)).not.toHaveProperty('value');
  });
});

describe('helpers', () => {
  it('decodes text only for textual types', () => {
    expect(valueAsText('application/json', Buffer.from('{}'))).toBe('{}');
    expect(valueAsText('image/png', Buffer.from('x'))).toBeUndefined();
  });

  it('encodes each key segment of a record path', () => {
    expect(recordPath('default', 'my things', 'a/b c/%')).toBe(
      '/v1/spaces/default/collections/my%20things/records/a/b%20c/%25',
    );
  });
});
