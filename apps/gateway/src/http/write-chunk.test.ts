import { ChunkBuilder } from './write-chunk';

describe('ChunkBuilder', () => {
  it('joins the pieces as UTF-8 bytes, in order, and starts again empty after a take', () => {
    const chunk = new ChunkBuilder();
    expect(chunk.pieces).toBe(0);
    chunk.add('{"key":"a"}');
    chunk.add(',{"key":"ü€𝄞"}');
    chunk.add('');
    expect(chunk.pieces).toBe(3);
    const bytes = chunk.take();
    expect(bytes.toString('utf8')).toBe('{"key":"a"},{"key":"ü€𝄞"}');
    expect(bytes.byteLength).toBe(Buffer.byteLength('{"key":"a"},{"key":"ü€𝄞"}'));
    expect(chunk.pieces).toBe(0);
    expect(chunk.take().byteLength).toBe(0);
    chunk.add('next');
    expect(chunk.take().toString()).toBe('next');
  });

  it('encodes a lone surrogate as U+FFFD, as res.write of the string would', () => {
    const chunk = new ChunkBuilder();
    chunk.add('a\ud800b');
    expect(chunk.take()).toEqual(Buffer.from('a\ud800b', 'utf8'));
    expect(Buffer.from('a\ud800b', 'utf8').toString()).toBe('a\ufffdb');
  });
});
