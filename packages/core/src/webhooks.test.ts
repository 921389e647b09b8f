import { codeOf } from '../../../test/support/errors';
import {
  validateDeliveryStateFilter,
  validateWebhook,
  validateWebhookFormat,
  validateWebhookKeyPrefix,
  validateWebhookOps,
  validateWebhookSecret,
  validateWebhookUrl,
} from './webhooks';

const SECRET = 'a-secret-of-16ch';

describe('webhook validation', () => {
  it('accepts http and https URLs as given', () => {
    for (const url of ['http://localhost:8080/hook', 'https://example.com', 'https://[::1]:9/a?b=c#d']) {
      expect(validateWebhookUrl(url)).toBe(url);
    }
  });

  it('refuses other schemes, relative, malformed and padded URLs', () => {
    for (const url of [
      '',
      'ftp://example.com/',
      'file:///etc/passwd',
      'javascript:alert(1)',
      'mailto:a@example.com',
      '/relative/path',
      'example.com/hook',
      'http://',
      'https://exa mple.com/',
      ' https://example.com/',
      'https://example.com/\n',
      'https://example.com/\u0000',
      `https://example.com/${'a'.repeat(2048)}`,
    ]) {
      expect([url, codeOf(() => validateWebhookUrl(url))]).toEqual([url, 'INVALID_ARGUMENT']);
    }
  });

  it('wants a secret of 16 to 256 characters without NUL', () => {
    expect(validateWebhookSecret(SECRET)).toBe(SECRET);
    expect(validateWebhookSecret('x'.repeat(256))).toBe('x'.repeat(256));
    // Characters, not UTF-16 units or bytes.
    expect(validateWebhookSecret('😀'.repeat(16))).toBe('😀'.repeat(16));
    for (const secret of ['', 'x'.repeat(15), 'x'.repeat(257), `${SECRET}\u0000`, `${SECRET}\ud800`]) {
      expect(codeOf(() => validateWebhookSecret(secret))).toBe('INVALID_ARGUMENT');
    }
  });

  it('takes each known op once; none means every op', () => {
    expect(validateWebhookOps([])).toEqual([]);
    expect(validateWebhookOps(['put', 'delete', 'collection.updated', 'collection.deleted'])).toHaveLength(4);
    for (const ops of [['put', 'put'], ['collection.created'], ['PUT'], ['']]) {
      expect(codeOf(() => validateWebhookOps(ops))).toBe('INVALID_ARGUMENT');
    }
  });

  it('takes a key prefix of at most 1024 bytes without NUL, empty for every key', () => {
    expect(validateWebhookKeyPrefix('')).toBe('');
    expect(validateWebhookKeyPrefix('é'.repeat(512))).toBe('é'.repeat(512));
    for (const prefix of ['é'.repeat(513), 'a\u0000', '\udc00']) {
      expect(codeOf(() => validateWebhookKeyPrefix(prefix))).toBe('INVALID_ARGUMENT');
    }
  });

  it('defaults the format to rosetta and knows dvid', () => {
    expect(validateWebhookFormat('')).toBe('rosetta');
    expect(validateWebhookFormat('rosetta')).toBe('rosetta');
    expect(validateWebhookFormat('dvid')).toBe('dvid');
    expect(codeOf(() => validateWebhookFormat('json'))).toBe('INVALID_ARGUMENT');
  });

  it('validates a whole webhook', () => {
    expect(
      validateWebhook({ url: 'https://example.com/h', secret: SECRET, ops: ['put'], keyPrefix: 'a/', format: '' }),
    ).toEqual({ url: 'https://example.com/h', secret: SECRET, ops: ['put'], keyPrefix: 'a/', format: 'rosetta' });
  });

  it('filters deliveries by a known state, or none', () => {
    expect(validateDeliveryStateFilter('')).toBeUndefined();
    for (const state of ['retrying', 'delivered', 'dead'] as const)
      expect(validateDeliveryStateFilter(state)).toBe(state);
    expect(codeOf(() => validateDeliveryStateFilter('failed'))).toBe('INVALID_ARGUMENT');
  });
});
