import DataLoader from 'dataloader';

/**
 * A DataLoader that keeps one batch in flight: keys asked for while it runs wait, and leave together in the next
 * batch as soon as it returns. Alone (a quiet service) a key leaves on the next tick, as with a plain DataLoader;
 * under load the batches grow by themselves instead of each key taking a pool connection and a round trip. No caching:
 * every load reads afresh.
 */
export function coalescingLoader<K, V>(
  load: (keys: readonly K[]) => Promise<readonly V[]>,
  maxBatchSize = 256,
): DataLoader<K, V> {
  let settled: Promise<unknown> = Promise.resolve();
  return new DataLoader<K, V>(
    (keys) => {
      const batch = load(keys);
      settled = batch.catch(() => undefined);
      return batch;
    },
    {
      cache: false,
      maxBatchSize,
      batchScheduleFn: (dispatch) => void settled.then(() => process.nextTick(dispatch)),
    },
  );
}
