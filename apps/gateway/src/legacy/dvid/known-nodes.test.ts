import { KnownNodes } from './known-nodes';

it('remembers nodes named by their full UUID, per space, and never prefixes or branches', () => {
  const known = new KnownNodes();
  known.remember('lab', 'abc123', 'abc123', 'root1');
  known.remember('lab', 'abc', 'abc999', 'root1');
  known.remember('lab', ':master', 'abc777', 'root1');
  expect(known.rootOf('lab', 'abc123')).toBe('root1');
  expect(known.rootOf('lab', 'abc')).toBeUndefined();
  expect(known.rootOf('lab', 'abc999')).toBeUndefined();
  expect(known.rootOf('lab', ':master')).toBeUndefined();
  expect(known.rootOf('other', 'abc123')).toBeUndefined();
});
