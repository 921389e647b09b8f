import fc from 'fast-check';
import { isDomainError } from '@rosetta/core';
import { basicOf, optionalSessionOf, sessionOf } from './credentials';

const HEX64 = 'a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90';
const basic = (text: string) => `Basic ${Buffer.from(text).toString('base64')}`;

describe('sessionOf (Rivet’s order: missing 401, malformed 400)', () => {
  it.each([
    [undefined, 'UNAUTHENTICATED'],
    ['', 'UNAUTHENTICATED'],
    ['abc', 'INVALID_ARGUMENT'],
    [HEX64.slice(1), 'INVALID_ARGUMENT'],
    [`${HEX64}0`, 'INVALID_ARGUMENT'],
    [`g${HEX64.slice(1)}`, 'INVALID_ARGUMENT'],
    [` ${HEX64.slice(1)}`, 'INVALID_ARGUMENT'],
  ])('%p → %s', (value, code) => {
    expect(() => sessionOf(value)).toThrow(expect.objectContaining({ code }));
  });

  it('accepts 64 hex digits of either case, lower-cased', () => {
    expect(sessionOf(HEX64)).toBe(HEX64);
    expect(sessionOf(HEX64.toUpperCase())).toBe(HEX64);
  });

  it('accepts exactly the 64-hex-digit values and refuses the rest with a domain error', () => {
    const hex = fc.stringMatching(/^[0-9a-fA-F]{64}$/);
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), hex), (value) => {
        let session: string | undefined;
        try {
          session = sessionOf(value);
        } catch (error) {
          expect(isDomainError(error)).toBe(true);
        }
        expect(session !== undefined).toBe(/^[0-9a-fA-F]{64}$/.test(value));
        expect(optionalSessionOf(value)).toBe(session);
      }),
    );
  });
});

describe('basicOf (Go Request.BasicAuth)', () => {
  it('reads user and password, the user before the first colon', () => {
    expect(basicOf(basic('alice:pa:ss'))).toEqual({ login: 'alice', password: 'pa:ss' });
    expect(basicOf(basic('alice@example.com:'))).toEqual({ login: 'alice@example.com', password: '' });
    expect(basicOf(`basic ${Buffer.from('a:b').toString('base64')}`)).toEqual({ login: 'a', password: 'b' });
  });

  it.each([undefined, '', 'Basic', 'Basic ', 'Basic !!!', basic('no colon'), 'Bearer abc', 'Digest a:b'])(
    'refuses %p with INVALID_ARGUMENT (400)',
    (value) => {
      expect(() => basicOf(value)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    },
  );

  it('never fails with anything but a domain error', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map(basic),
          fc.base64String().map((b) => `Basic ${b}`),
        ),
        (v) => {
          try {
            basicOf(v);
          } catch (error) {
            expect(isDomainError(error)).toBe(true);
          }
        },
      ),
    );
  });
});
