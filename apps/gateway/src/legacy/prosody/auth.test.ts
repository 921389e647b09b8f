import fc from 'fast-check';
import { byteString, parseLogin } from './auth';

const basic = (text: string, scheme = 'Basic') => `${scheme} ${Buffer.from(text).toString('base64')}`;

describe('parseLogin', () => {
  it('splits the JID at its @ and the password at the first colon', () => {
    expect(parseLogin(basic('test@localhost:pa:ss word'))).toEqual({
      node: 'test',
      host: 'localhost',
      password: 'pa:ss word',
    });
  });

  it('takes the text after the last space, whatever the scheme says', () => {
    expect(parseLogin(basic('test@localhost:secret', 'Bearer'))?.node).toBe('test');
    expect(parseLogin(`Basic  junk ${Buffer.from('a@b:c').toString('base64')}`)?.host).toBe('b');
    expect(parseLogin(Buffer.from('a@b:c').toString('base64'))?.node).toBe('a');
  });

  it('lower-cases and NFKC-normalises the JID, not the password', () => {
    expect(parseLogin(basic('TeSt@LocalHost:PassWord'))).toEqual({
      node: 'test',
      host: 'localhost',
      password: 'PassWord',
    });
    expect(parseLogin(basic('\uff54est@localhost:x'))?.node).toBe('test');
  });

  it('drops a resource', () => {
    expect(parseLogin(basic('test@localhost/phone:x'))).toEqual({ node: 'test', host: 'localhost', password: 'x' });
  });

  it.each([
    ['no colon', basic('test@localhost')],
    ['no @ (a bare host)', basic('localhost:secret')],
    ['empty node', basic('@localhost:secret')],
    ['empty host', basic('test@:secret')],
    ['two @', basic('a@b@c:secret')],
    ['empty resource', basic('test@localhost/:secret')],
    ['not UTF-8', `Basic ${Buffer.from([0x74, 0xff, 0x40, 0x68, 0x3a, 0x78]).toString('base64')}`],
    ['empty', ''],
  ])('refuses %s', (_, header) => {
    expect(parseLogin(header)).toBeUndefined();
  });

  it('never throws', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.string().map((text) => basic(text)),
        ),
        (header) => {
          const login = parseLogin(header);
          if (login !== undefined) {
            expect(login.node).not.toMatch(/[@/]/);
            expect(login.host).not.toMatch(/[@/]/);
          }
        },
      ),
    );
  });
});

describe('byteString', () => {
  it('is the UTF-8 bytes, one char each', () => {
    expect(byteString('café')).toBe('caf\u00c3\u00a9');
    expect(byteString('plain')).toBe('plain');
  });
});
