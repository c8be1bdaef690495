// Reloads that follow announcements: a burst of "something changed" must cause one more read, not
// one read each (a registry or a conference may announce many writes in a row).

/**
 * Wraps `run` so that one runs at a time: a call while it runs makes one more run after it, however
 * many calls came. The promise returned resolves when a run that started after the call has ended.
 * `run` handles its own failures.
 */
export function coalescing(run: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        await run();
      } while (again);
    })().finally(() => (running = null));
    return running;
  };
}
