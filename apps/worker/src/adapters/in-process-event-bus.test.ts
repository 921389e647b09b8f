import { create } from '@bufbuild/protobuf';
import { ChangeEventSchema, type ChangeEvent } from '@rosetta/proto';
import { InProcessEventBus } from './in-process-event-bus';

const event = (key: string): ChangeEvent => create(ChangeEventSchema, { op: 'put', key, position: `1.${key}` });
const failOnError = (error: unknown) => {
  throw error;
};

describe('InProcessEventBus', () => {
  it('delivers every published event, in order, to every subscriber', async () => {
    const bus = new InProcessEventBus(failOnError);
    const first: string[] = [];
    const second: string[] = [];
    bus.subscribe((e) => first.push(e.key));
    bus.subscribe((e) => second.push(e.key));

    await bus.publish([event('a'), event('b')]);
    await bus.publish([event('c')]);

    expect(first).toEqual(['a', 'b', 'c']);
    expect(second).toEqual(['a', 'b', 'c']);
  });

  it('stops delivering after unsubscribe, which may be called more than once', async () => {
    const bus = new InProcessEventBus(failOnError);
    const seen: string[] = [];
    const unsubscribe = bus.subscribe((e) => seen.push(e.key));

    await bus.publish([event('a')]);
    unsubscribe();
    unsubscribe();
    await bus.publish([event('b')]);

    expect(seen).toEqual(['a']);
  });

  it('treats the same function subscribed twice as two subscriptions', async () => {
    const bus = new InProcessEventBus(failOnError);
    const seen: string[] = [];
    const listener = (e: ChangeEvent) => seen.push(e.key);
    const unsubscribeFirst = bus.subscribe(listener);
    bus.subscribe(listener);

    await bus.publish([event('a')]);
    unsubscribeFirst();
    await bus.publish([event('b')]);

    expect(seen).toEqual(['a', 'a', 'b']);
  });

  it('lets a listener unsubscribe while it is being called', async () => {
    const bus = new InProcessEventBus(failOnError);
    const seen: string[] = [];
    const unsubscribe = bus.subscribe((e) => {
      seen.push(`once:${e.key}`);
      unsubscribe();
    });
    bus.subscribe((e) => seen.push(`always:${e.key}`));

    await bus.publish([event('a'), event('b')]);

    expect(seen).toEqual(['once:a', 'always:a', 'always:b']);
  });

  it('reports a throwing listener without failing the publish or starving the others', async () => {
    const errors: Array<[unknown, string]> = [];
    const bus = new InProcessEventBus((error, e) => errors.push([error, e.key]));
    const seen: string[] = [];
    const boom = new Error('listener bug');
    bus.subscribe(() => {
      throw boom;
    });
    bus.subscribe((e) => seen.push(e.key));

    await expect(bus.publish([event('a')])).resolves.toBeUndefined();

    expect(seen).toEqual(['a']);
    expect(errors).toEqual([[boom, 'a']]);
  });

  it('publishes to nobody without complaint', async () => {
    await expect(new InProcessEventBus(failOnError).publish([event('a')])).resolves.toBeUndefined();
  });
});
