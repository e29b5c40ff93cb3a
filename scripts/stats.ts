/** Number helpers the benchmark scripts share: medians and how results are printed. */

/** The median (the mean of the middle two for an even count); NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Milliseconds as seconds, with `digits` decimals. */
export const fmtS = (ms: number, digits = 2): string => `${(ms / 1000).toFixed(digits)} s`;

export const fmtMB = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

export const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}x`;
