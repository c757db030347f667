/** A bounded wait on something that reports its changes (a watch cache, a test's fake cluster). */

/** True once `done()` holds, checked now and after each change `source` reports; false after `timeoutMs` or on abort. */
export function untilChange(
  source: { onChange(listener: () => void): () => void },
  done: () => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (done()) return Promise.resolve(true);
  if (timeoutMs <= 0 || signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const finish = (result: boolean) => {
      off();
      clearTimeout(timer);
      signal?.removeEventListener("abort", aborted);
      resolve(result);
    };
    const aborted = () => finish(false);
    const off = source.onChange(() => {
      if (done()) finish(true);
    });
    const timer = setTimeout(() => finish(false), timeoutMs);
    signal?.addEventListener("abort", aborted, { once: true });
  });
}
