import { useEffect, useRef, useState } from 'preact/hooks';
import { describeError } from './api.ts';

export interface Loaded<T> {
  data: T | undefined;
  error: string | null;
  loading: boolean;
  /** Load again now (after a write). */
  reload: () => void;
}

/**
 * Loads `load()` when `deps` change, and again every `everyMs` while the page is visible (the
 * console's "live" lists: 5 s is fresh enough to watch, and one request per list is cheap).
 */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[], everyMs = 0): Loaded<T> {
  const [loaded, setLoaded] = useState<{ key: string; value: T } | undefined>(undefined);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  // Each answer is kept with the deps it was loaded for (another id, other filters): a view
  // never shows the answer of the view before it while its own loads.
  const key = JSON.stringify(deps);
  useEffect(() => {
    let stale = false;
    setLoading(true);
    loadRef
      .current()
      .then((value) => {
        if (stale) return;
        setLoaded({ key, value });
        setError(null);
      })
      .catch((e: unknown) => {
        if (!stale) setError(describeError(e));
      })
      .finally(() => {
        if (!stale) setLoading(false);
      });
    return () => {
      stale = true;
    };
  }, [...deps, tick]);
  useEffect(() => {
    if (!everyMs) return;
    const timer = setInterval(() => {
      if (document.visibilityState === 'visible') setTick((t) => t + 1);
    }, everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  const data = loaded?.key === key ? loaded.value : undefined;
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}

/** The default refresh of a live view. */
export const LIVE_MS = 5_000;
