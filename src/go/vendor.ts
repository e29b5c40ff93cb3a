/**
 * GOFLAGS=-mod=vendor: the build reads vendor/, never the module cache. When
 * the job says so and every module in scope vendors, restoring, proving and
 * saving a module cache would be work for nothing. Pure.
 *
 * Only an explicit GOFLAGS counts: Go also defaults to -mod=vendor when a
 * vendor/modules.txt exists and the go directive is 1.14 or later, but pre
 * runs before the checkout and cannot see that, and steps such as
 * `go mod download` or `go list -m` still read the module cache then.
 */

/** The `-mod` value GOFLAGS sets (the last one wins, as for repeated flags), or undefined. */
export function goflagsMod(goflags: string): string | undefined {
  let mod: string | undefined;
  for (const f of goflags.split(/\s+/)) {
    const m = /^--?mod=(\S*)$/.exec(f);
    if (m) mod = m[1];
  }
  return mod;
}

export interface VendorRoot {
  /** A directory Go builds in: a module, or a go.work workspace. */
  dir: string;
  /** vendor/modules.txt exists there. */
  vendored: boolean;
}

/**
 * Why this job's build does not use the module cache, or undefined when it
 * may: GOFLAGS says -mod=vendor and every root in scope has a vendor/modules.txt.
 */
export function vendorOnlyReason(goflags: string, roots: VendorRoot[]): string | undefined {
  if (goflagsMod(goflags) !== 'vendor' || roots.length === 0) return undefined;
  if (!roots.every((r) => r.vendored)) return undefined;
  return (
    'GOFLAGS=-mod=vendor and every module in scope vendors its dependencies (vendor/modules.txt), ' +
    'so the build reads vendor/ and never the module cache; it was not restored, verified or saved. ' +
    'A step that does need modules (go mod download, go run pkg@version) can run this action ' +
    "with GOFLAGS cleared in the step's env."
  );
}
