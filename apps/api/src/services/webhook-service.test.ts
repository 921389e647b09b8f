import { codeOf } from '../../../../test/support/errors';
import { deliveriesLimit, validateDelivery, webhookIdOf, type DeliveryReport } from './webhook-service';

const report: DeliveryReport = {
  webhookId: 7n,
  eventId: '1234.56',
  revision: 42n,
  op: 'put',
  key: 'a/b',
  state: 'retrying',
  attempts: 1,
  lastStatus: 503,
  lastError: 'Service Unavailable',
};

describe('webhookIdOf', () => {
  it('refuses unset and negative ids, and finds no webhook beyond the safe range', () => {
    expect(webhookIdOf(7n)).toBe(7);
    expect(codeOf(() => webhookIdOf(0n))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => webhookIdOf(-1n))).toBe('INVALID_ARGUMENT');
    expect(webhookIdOf(2n ** 62n)).toBeUndefined();
  });
});

describe('deliveriesLimit', () => {
  it('defaults to 100 and allows up to 1000', () => {
    expect(deliveriesLimit(0)).toBe(100);
    expect(deliveriesLimit(1)).toBe(1);
    expect(deliveriesLimit(1000)).toBe(1000);
    expect(codeOf(() => deliveriesLimit(1001))).toBe('INVALID_ARGUMENT');
    expect(codeOf(() => deliveriesLimit(-1))).toBe('INVALID_ARGUMENT');
  });
});

describe('validateDelivery', () => {
  it('takes a well-formed report', () => {
    expect(validateDelivery(report)).toEqual({ ...report, webhookId: 7, revision: 42 });
    expect(validateDelivery({ ...report, op: 'collection.deleted', key: '', lastStatus: 0 })).toMatchObject({
      op: 'collection.deleted',
      key: '',
    });
  });

  it('refuses malformed fields', () => {
    for (const bad of [
      { webhookId: 0n },
      { eventId: '' },
      { eventId: 'x'.repeat(257) },
      { eventId: 'a\u0000' },
      { revision: -1n },
      { op: 'upsert' },
      { key: 'k\u0000' },
      { key: 'x'.repeat(1025) },
      { state: '' },
      { state: 'failed' },
      { attempts: -1 },
      { lastStatus: -1 },
      { lastStatus: 1000 },
    ]) {
      expect([bad, codeOf(() => validateDelivery({ ...report, ...bad }))]).toEqual([bad, 'INVALID_ARGUMENT']);
    }
  });

  it('tidies the last error instead of refusing it', () => {
    expect(validateDelivery({ ...report, lastError: 'a\u0000b\ud800' })?.lastError).toBe('ab\ufffd');
    expect(validateDelivery({ ...report, lastError: '😀'.repeat(3000) })?.lastError).toBe('😀'.repeat(2000));
  });

  it('answers undefined for a webhook id no webhook can have', () => {
    expect(validateDelivery({ ...report, webhookId: 2n ** 62n })).toBeUndefined();
  });
});
