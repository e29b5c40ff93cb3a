/**
 * go.sum loading for the verdict (judge.ts), the list of bad modules for the
 * outputs, and `go mod verify`, which left the warm path: the benchmark keeps
 * it as the baseline the new verifier is measured against, and the e2e suite
 * as an independent cross-check.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { parseGoSum, sumIndex, type SumFile } from '../go/gosum.js';
import { parseVerifyOutput, type BadModule } from '../go/goout.js';
import type { Go } from '../go/toolchain.js';

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

export function corruptModuleList(bad: BadModule[]): string {
  return [...new Set(bad.map((b) => b.module))].join(',');
}
