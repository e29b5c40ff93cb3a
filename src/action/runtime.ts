/**
 * Garbage collection tuned for a restore. Extracting a module cache passes
 * gigabytes of short-lived ArrayBuffers through the process (zstd's output
 * chunks, the batches and zips handed to the hashing workers) while the
 * JavaScript heap stays at a few dozen MB. V8 by default starts a full
 * mark-compact each time about 64 MB of such external memory has been
 * allocated: about 60 of them on the main thread for the real workload's
 * 1.3 GB cache, 0.6 s of pauses. With external memory counted in V8's global
 * limit instead, the extraction took 5.2 s instead of 5.7 s (9.2 instead of
 * 10.2 CPU seconds), its peak resident memory going from about 0.8 to 1.5 GB
 * (BENCHMARKS.md, "The GC flag"). Node 24 (the action's runtime, V8 13) has the flag; older
 * V8s do not know it and would print an error, so it is set only there.
 */
import * as v8 from 'node:v8';

export const EXTERNAL_MEMORY_FLAG = '--external-memory-accounted-in-global-limit';

/** The V8 flag to set for a Node version, or undefined where V8 does not have it. */
export function gcFlagFor(nodeVersion: string): string | undefined {
  const major = Number(/^v?(\d+)\./.exec(nodeVersion)?.[1]);
  return major >= 24 ? EXTERNAL_MEMORY_FLAG : undefined;
}

/** Sets the flag for this process; worker threads started later inherit it. */
export function tuneGcForBuffers(nodeVersion = process.versions.node): boolean {
  const flag = gcFlagFor(nodeVersion);
  if (flag === undefined) return false;
  v8.setFlagsFromString(flag);
  return true;
}
