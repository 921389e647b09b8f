import { handOver } from './hand-over';

/** A producer of `count` items that records how its emits ended. */
function producer(count: number) {
  const outcomes: string[] = [];
  let finished!: Promise<void>;
  const produce = (emit: (item: number) => Promise<void>) => {
    finished = (async () => {
      for (let i = 0; i < count; i++) {
        try {
          await emit(i);
          outcomes.push(`taken ${i}`);
        } catch (error) {
          outcomes.push(`dropped ${i}: ${(error as Error).message}`);
          throw error;
        }
      }
    })();
    return finished;
  };
  return { produce, outcomes, finished: () => finished };
}

describe('handOver', () => {
  it('hands every item over in order, each emit waiting for its item to be taken', async () => {
    const p = producer(3);
    const seen: number[] = [];
    for await (const item of handOver(p.produce)) {
      seen.push(item);
      expect(p.outcomes).toHaveLength(item);
    }
    expect(seen).toEqual([0, 1, 2]);
    expect(p.outcomes).toEqual(['taken 0', 'taken 1', 'taken 2']);
  });

  it('stops the producer when the consumer leaves with an item in hand', async () => {
    const p = producer(5);
    for await (const item of handOver(p.produce)) {
      if (item === 1) break;
    }
    await expect(p.finished()).rejects.toThrow('the reader went away');
    expect(p.outcomes).toEqual(['taken 0', 'dropped 1: the reader went away']);
  });

  it("passes the producer's failure to the consumer", async () => {
    const failing = handOver<number>(async (emit) => {
      await emit(1);
      throw new Error('the database went away');
    });
    const seen: number[] = [];
    await expect(
      (async () => {
        for await (const item of failing) seen.push(item);
      })(),
    ).rejects.toThrow('the database went away');
    expect(seen).toEqual([1]);
  });
});
