import fc from 'fast-check';
import {
  climbsAboveRoot,
  decodePath,
  formatOf,
  isDataPath,
  isOwnTarget,
  itemsOf,
  MAX_STORE_NAME,
  mayBeDataPath,
  targetOf,
} from './paths';

const me = { host: 'localhost', node: 'test' };

describe('decodePath', () => {
  it.each([
    ['/data/notes', '/data/notes'],
    ['//data///notes//', '/data/notes/'],
    ['/data/%6Eotes', '/data/notes'],
    ['/dat%61/x', '/data/x'],
    ['/data/a+b', '/data/a+b'],
    ['/data/%zz%4', '/data/%zz%4'],
    ['/data/caf%C3%A9', '/data/caf\u00c3\u00a9'],
    ['/data/%2F%2Fx', '/data///x'],
    ['data/x', '/data/x'],
  ])('%j → %j', (raw, decoded) => {
    expect(decodePath(raw)).toBe(decoded);
  });

  it('decodes every escape to one byte, whatever the text', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const decoded = decodePath(text);
        expect(decoded.startsWith('/')).toBe(true);
        expect(/[\u0100-\uffff]/.test(decoded)).toBe(/[\u0100-\uffff]/.test(text));
      }),
    );
  });
});

describe('climbsAboveRoot', () => {
  it.each([
    ['/data/notes', false],
    ['/data/../notes', false],
    ['/data/../../notes', true],
    ['/../data', true],
    ['/./../x', true],
    ['/data/..', false],
    ['/data/../..', false],
    ['/a/./../../b', true],
  ])('%j → %j', (path, climbs) => {
    expect(climbsAboveRoot(path)).toBe(climbs);
  });
});

describe('the dialect’s paths', () => {
  it.each([
    ['/data', true],
    ['/data/', true],
    ['/data/x/y', true],
    ['/datax', false],
    ['/Data/x', false],
    ['/v1/data', false],
  ])('%j is ours: %j', (path, ours) => {
    expect(isDataPath(path)).toBe(ours);
  });

  it('never lets a raw path through the cheap test that decodes to one of ours', () => {
    const raw = fc.stringMatching(/^\/(\/|%2F|%64|%61|d|a|t|%|x)*$/);
    fc.assert(
      fc.property(raw, (text) => {
        if (isDataPath(decodePath(text))) expect(mayBeDataPath(text)).toBe(true);
      }),
    );
  });
});

describe('itemsOf and targetOf', () => {
  it('drops empty items', () => {
    expect(itemsOf('/data/a//b/')).toEqual(['a', 'b']);
    expect(itemsOf('/data/')).toEqual([]);
  });

  it.each([
    [['notes'], { host: 'localhost', user: 'test', store: 'notes', format: undefined }],
    [['notes', 'lua'], { host: 'localhost', user: 'test', store: 'notes', format: 'lua' }],
    [['h', 'u', 'store'], { host: 'h', user: 'u', store: 'store', format: undefined }],
    [['notes', 'lua', 'x'], { host: 'notes', user: 'lua', store: 'x', format: undefined }],
    [['h', 'u', 'S_s', 'json', 'ignored'], { host: 'h', user: 'u', store: 'S_s', format: 'json' }],
  ])('%j → %j', (items, target) => {
    expect(targetOf(items, me)).toEqual(target);
  });

  it.each([[[]], [['notes1']], [['no-tes']], [['a.b']], [['h', 'u', 'é']], [['x'.repeat(MAX_STORE_NAME + 1)]]])(
    '%j addresses nothing',
    (items) => {
      expect(targetOf(items, me)).toBeUndefined();
    },
  );

  it('keeps store names short enough for their item keys', () => {
    expect(targetOf(['x'.repeat(MAX_STORE_NAME)], me)?.store).toHaveLength(MAX_STORE_NAME);
    expect(Buffer.byteLength(`${'x'.repeat(MAX_STORE_NAME)}/${'0'.repeat(36)}`)).toBe(1024);
  });

  it('compares host and user exactly', () => {
    const target = (host: string, user: string) => ({ host, user, store: 's', format: undefined });
    expect(isOwnTarget(target('localhost', 'test'), me)).toBe(true);
    expect(isOwnTarget(target('localhost', 'Test'), me)).toBe(false);
    expect(isOwnTarget(target('example.com', 'test'), me)).toBe(false);
  });

  it('never throws, and either refuses or names a valid store', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 12 }), { maxLength: 6 }), (items) => {
        const target = targetOf(items, me);
        if (target !== undefined) expect(target.store).toMatch(/^[A-Za-z_]+$/);
      }),
    );
  });
});

describe('formatOf', () => {
  it('knows json and lua only', () => {
    expect(formatOf('json')).toBe('json');
    expect(formatOf('lua')).toBe('lua');
    expect(formatOf('JSON')).toBeUndefined();
    expect(formatOf('xml')).toBeUndefined();
  });
});
