/**
 * Polls `probe` every 100 ms until it answers something other than undefined, and returns it;
 * fails naming `what` after `ms` (90 s: a real agent CLI's run on a loaded 2-core machine).
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 90_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
