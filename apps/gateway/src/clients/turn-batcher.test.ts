import { TurnBatcher, type CollectionRef } from './turn-batcher';

const a = { space: 's', collection: 'a' };
const b = { space: 's', collection: 'b' };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatcher', () => {
  it('hands over what one turn collected, grouped by collection, once', async () => {
    const flushed: Array<[CollectionRef, number[]]> = [];
    const batcher = new TurnBatcher<number>((collection, items) => flushed.push([collection, items]));
    batcher.add(a, 1);
    batcher.add(b, 2);
    batcher.add(a, 3);
    expect(flushed).toEqual([]);
    await nextTurn();
    expect(flushed).toEqual([
      [a, [1, 3]],
      [b, [2]],
    ]);
  });

  it('starts afresh in the next turn', async () => {
    const flushed: number[][] = [];
    const batcher = new TurnBatcher<number>((_, items) => flushed.push(items));
    batcher.add(a, 1);
    await nextTurn();
    batcher.add(a, 2);
    await nextTurn();
    expect(flushed).toEqual([[1], [2]]);
  });
});
