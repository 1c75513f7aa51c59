import { useSyncExternalStore } from 'react';

/** The published ranking of a movie store; re-renders at most once a frame. */
export function useRanking(store) {
  return useSyncExternalStore(store.subscribe, store.getSnapshot);
}

/** One row of the published ranking ({movie, rank, ...}), or undefined. */
export function useRankedMovie(store, id) {
  return useSyncExternalStore(store.subscribe, () => (id == null ? undefined : store.getSnapshot().byId.get(id)));
}
