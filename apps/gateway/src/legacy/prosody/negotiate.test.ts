import fc from 'fast-check';
import { negotiateFormat } from './negotiate';

describe('negotiateFormat', () => {
  it.each([
    [undefined, 'json'],
    ['', 'json'],
    ['*/*', 'json'],
    ['application/json', 'json'],
    ['text/x-lua', 'lua'],
    ['TEXT/X-LUA; charset=utf-8', 'lua'],
    ['text/*', 'lua'],
    ['application/*', 'json'],
    ['text/x-lua, application/json', 'lua'],
    ['application/json, text/x-lua', 'json'],
    ['application/json;q=0.5, text/x-lua', 'lua'],
    ['text/x-lua;q=0.2, */*;q=0.8', 'json'],
    ['*/*, application/json;q=0', 'lua'],
    ['text/html, */*;q=0.1', 'json'],
    ['garbage', 'json'],
    ['image/png', undefined],
    ['text/html, application/xml', undefined],
    ['application/json;q=0, text/x-lua;q=0', undefined],
    ['*/*;q=0', undefined],
  ])('%j → %j', (accept, format) => {
    expect(negotiateFormat(accept)).toBe(format);
  });

  it('ignores malformed ranges', () => {
    expect(negotiateFormat('text/x-lua;q=2, application/json;q=0.1')).toBe('json');
    expect(negotiateFormat('*/json, text/x-lua;q=0.5')).toBe('lua');
  });

  it('never throws, whatever the header', () => {
    fc.assert(
      fc.property(fc.string(), (accept) => {
        expect([undefined, 'json', 'lua']).toContain(negotiateFormat(accept));
      }),
    );
  });
});
