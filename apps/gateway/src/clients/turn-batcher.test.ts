import { TurnBatcher, type CallerHeaders, type CollectionRef } from './turn-batcher';

const a = { space: 's', collection: 'a' };
const b = { space: 's', collection: 'b' };
const alice: CallerHeaders = { grant: 'ga', headers: { 'rosetta-grant': 'ga' } };
const bob: CallerHeaders = { grant: 'gb', headers: { 'rosetta-grant': 'gb' } };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

describe('TurnBatcher', () => {
  it('hands over what one turn collected, grouped by collection, once', async () => {
    const flushed: Array<[CollectionRef, number[]]> = [];
    const batcher = new TurnBatcher<number>((collection, _caller, items) => flushed.push([collection, items]));
    batcher.add(a, alice, 1);
    batcher.add(b, alice, 2);
    batcher.add(a, alice, 3);
    expect(flushed).toEqual([]);
    await nextTurn();
    expect(flushed).toEqual([
      [a, [1, 3]],
      [b, [2]],
    ]);
  });

  it('never puts two callers in one batch', async () => {
    const flushed: Array<[string, number[]]> = [];
    const batcher = new TurnBatcher<number>((_collection, caller, items) => flushed.push([caller.grant, items]));
    batcher.add(a, alice, 1);
    batcher.add(a, bob, 2);
    batcher.add(a, alice, 3);
    await nextTurn();
    expect(flushed).toEqual([
      ['ga', [1, 3]],
      ['gb', [2]],
    ]);
  });

  it('starts afresh in the next turn', async () => {
    const flushed: number[][] = [];
    const batcher = new TurnBatcher<number>((_, _caller, items) => flushed.push(items));
    batcher.add(a, alice, 1);
    await nextTurn();
    batcher.add(a, alice, 2);
    await nextTurn();
    expect(flushed).toEqual([[1], [2]]);
  });
});
