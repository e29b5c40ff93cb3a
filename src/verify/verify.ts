/**
 * Verification of the module cache, in two independent halves:
 *
 * 1. go.sum comparison (ours): every cached `.ziphash` and `.mod` against the
 *    hashes in go.sum, plus leftover `.partial` files and zips without ziphash.
 *    Cheap: reads small files only. Catches content replaced consistently in
 *    zip, ziphash and tree, which `go mod verify` cannot see.
 * 2. `go mod verify` (Go's): re-hashes every downloaded zip and extracted tree
 *    of the build list against the cache's own ziphash.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseGoSum, sumIndex, type SumFile } from '../go/gosum.js';
import { parseVerifyOutput, type BadModule } from '../go/goout.js';
import { compareWithGoSum, scanModCache, type CacheScan } from '../go/modcache.js';
import type { Go } from '../go/toolchain.js';

export interface VerifyOutcome {
  ok: boolean;
  bad: BadModule[];
  scan: CacheScan;
}

export async function loadSums(files: string[]): Promise<Map<string, string>> {
  const parsed: SumFile[] = [];
  for (const f of files) {
    const sum = parseGoSum(await fs.readFile(f, 'utf8'));
    if (sum.malformed.length > 0) {
      const first = sum.malformed[0]!;
      throw new Error(`${f}:${first.line}: not a go.sum line: ${JSON.stringify(first.text)}`);
    }
    parsed.push(sum);
  }
  return sumIndex(parsed);
}

/** The go.sum half alone (no go command): used before any download. */
export async function checkAgainstGoSum(
  modCache: string,
  sums: Map<string, string>,
): Promise<VerifyOutcome> {
  const scan = await scanModCache(modCache);
  const bad = compareWithGoSum(scan, sums);
  return { ok: bad.length === 0, bad, scan };
}

/** Runs `go mod verify` in each root and parses the failures by module. */
export async function goModVerify(go: Go, roots: string[]): Promise<BadModule[]> {
  const bad: BadModule[] = [];
  for (const root of roots) {
    const r = await go.run(['mod', 'verify'], root);
    const parsed = parseVerifyOutput(`${r.stdout}\n${r.stderr}`);
    bad.push(...parsed.bad);
    if (r.code !== 0 && parsed.bad.length === 0) {
      bad.push({
        module: `(module graph of ${path.basename(root) || root})`,
        reason: `go mod verify failed: ${parsed.other.join(' ') || `exit ${r.code}`}`,
      });
    }
  }
  return bad;
}

/**
 * Both halves, at once: they only read the cache. The scan in the result is
 * the cache as verified, for callers that need its fingerprint.
 */
export async function verifyAll(
  go: Go,
  modCache: string,
  roots: string[],
  sums: Map<string, string>,
): Promise<VerifyOutcome> {
  const [first, fromGo] = await Promise.all([
    checkAgainstGoSum(modCache, sums),
    goModVerify(go, roots),
  ]);
  const bad = dedupe([...first.bad, ...fromGo]);
  return { ok: bad.length === 0, bad, scan: first.scan };
}

export function dedupe(bad: BadModule[]): BadModule[] {
  const seen = new Set<string>();
  const out: BadModule[] = [];
  for (const b of bad) {
    const id = `${b.module}\0${b.reason}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push(b);
  }
  return out;
}

export function corruptModuleList(bad: BadModule[]): string {
  return [...new Set(bad.map((b) => b.module))].join(',');
}
