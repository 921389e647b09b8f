/**
 * Hands what `produce` emits to the consumer of the returned iterator, one item at a time: each
 * emit resolves once the consumer has taken its item (back-pressure). When the consumer goes away
 * — returns early, or throws — the emit in flight and any later one reject, so that the producer
 * stops and releases what it holds (a database transaction, say).
 */
export async function* handOver<T>(produce: (emit: (item: T) => Promise<void>) => Promise<void>): AsyncGenerator<T> {
  type Item = { readonly item: T; readonly taken: () => void; readonly dropped: (error: Error) => void };
  type Slot = Item | { readonly done: true } | { readonly error: unknown };
  let deliver: ((slot: Slot) => void) | undefined;
  let pending: Slot | undefined;
  let abandoned = false;
  const put = (slot: Slot) => {
    if (deliver === undefined) pending = slot;
    else {
      const d = deliver;
      deliver = undefined;
      d(slot);
    }
  };
  const emit = (item: T) =>
    new Promise<void>((taken, dropped) => {
      if (abandoned) dropped(new Error('the reader went away'));
      else put({ item, taken, dropped });
    });
  void produce(emit).then(
    () => put({ done: true }),
    (error: unknown) => put({ error }),
  );
  let inFlight: Item | undefined;
  try {
    for (;;) {
      const slot =
        pending ??
        (await new Promise<Slot>((resolve) => {
          deliver = resolve;
        }));
      pending = undefined;
      if ('done' in slot) return;
      if ('error' in slot) throw slot.error;
      inFlight = slot;
      yield slot.item;
      inFlight = undefined;
      slot.taken();
    }
  } finally {
    abandoned = true;
    const gone = new Error('the reader went away');
    inFlight?.dropped(gone);
    if (pending !== undefined && 'dropped' in pending) pending.dropped(gone);
  }
}
