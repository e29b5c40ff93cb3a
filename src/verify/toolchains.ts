/**
 * Toolchains in the module cache (`golang.org/toolchain@v0.0.1-go<ver>.<os>-<arch>`,
 * downloaded when GOTOOLCHAIN switches). go.sum never names them and `go mod
 * verify` skips them; Go checks their `.ziphash` against the checksum database
 * but never re-hashes their tree. A tree changed behind an intact `.ziphash`
 * would be executed by the next `go` command that switches to it.
 *
 * So, before any go command may switch toolchains: every cached toolchain's
 * tree (and zip) must hash to its `.ziphash`, and that `.ziphash` must pass
 * Go's own checksum-database check (GOSUMDB, GONOSUMDB, GOPRIVATE and
 * GOSUMDB=off as the job sets them). One that fails is removed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { forceRemove } from '../go/modcache.js';
import type { Go } from '../go/toolchain.js';
import { entryPaths } from '../cache/snapshot.js';
import type { ModuleFacts } from './judge.js';

export const TOOLCHAIN_MODULE = 'golang.org/toolchain';

export interface ToolchainCheck {
  /** `path@version` of toolchains that passed both checks. */
  verified: string[];
  removed: { module: string; reason: string }[];
}

/** Pure: the tree and zip against the cache's own `.ziphash`. */
export function toolchainSelfCheck(m: ModuleFacts): string | undefined {
  if (m.ziphash === undefined) return 'no .ziphash';
  if (m.partial) return 'leftover .partial file';
  if (m.treeH1 === undefined) return 'no extracted tree';
  if (m.treeH1 !== m.ziphash) return `tree hashes to ${m.treeH1}, its .ziphash says ${m.ziphash}`;
  if (m.zipH1 !== undefined && m.zipH1 !== m.ziphash) return 'zip differs from its .ziphash';
  return undefined;
}

async function removeVersion(modCache: string, id: string): Promise<void> {
  const p = entryPaths(id, { tree: true, zip: true });
  if (p.tree) await forceRemove(path.join(modCache, p.tree));
  const base = p.files[0]!.slice(0, -'.mod'.length);
  await Promise.all(
    ['.mod', '.info', '.ziphash', '.zip', '.partial', '.lock'].map((x) =>
      fs.rm(path.join(modCache, base + x), { force: true }),
    ),
  );
}

/**
 * Checks every cached toolchain among `unnamed` (the versions go.sum does not
 * name). Runs only the go command the job was given (GOTOOLCHAIN=local), in an
 * empty directory so that no go.mod can ask for a switch.
 */
export async function checkToolchains(
  go: Go,
  modCache: string,
  unnamed: ModuleFacts[],
  scratchParent: string,
): Promise<ToolchainCheck> {
  const out: ToolchainCheck = { verified: [], removed: [] };
  const toolchains = unnamed.filter((m) => m.path === TOOLCHAIN_MODULE);
  if (toolchains.length === 0) return out;
  const scratch = await fs.mkdtemp(path.join(scratchParent, 'vgc-toolchain-'));
  try {
    for (const m of toolchains) {
      const id = `${m.path}@${m.version}`;
      const self = toolchainSelfCheck(m);
      if (self) {
        await removeVersion(modCache, id);
        out.removed.push({ module: id, reason: `${self}; it was never executed` });
        continue;
      }
      // Go compares the cached .ziphash with the checksum database here (or
      // skips that, as it would for the job, when GOSUMDB=off / GONOSUMDB).
      const r = await go.run(['mod', 'download', '-json', id], scratch, {
        GOFLAGS: '-mod=mod',
        GOWORK: 'off',
        GOMODCACHE: modCache,
      });
      if (r.code !== 0) {
        await removeVersion(modCache, id);
        out.removed.push({
          module: id,
          reason: `the checksum database check failed: ${r.stdout.trim() || r.stderr.trim()}`,
        });
        continue;
      }
      out.verified.push(id);
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return out;
}

/**
 * The toolchain modules the project asks for: a `toolchain` line, or a `go`
 * line newer than the Go running, in any go.mod or go.work in scope. Pure.
 */
export function neededToolchains(
  directives: { goVersion?: string; toolchain?: string }[],
  running: string,
  hostOs: string,
  hostArch: string,
  newer: (a: string, b: string) => number | undefined,
): string[] {
  const out = new Set<string>();
  const run = running.replace(/^go/, '');
  for (const d of directives) {
    const wants = [d.toolchain?.replace(/^go/, ''), d.goVersion].filter(
      (v): v is string => v !== undefined && v !== '' && v !== 'default',
    );
    for (const v of wants) {
      if ((newer(v, run) ?? 0) > 0) {
        out.add(`${TOOLCHAIN_MODULE}@v0.0.1-go${v}.${hostOs}-${hostArch}`);
      }
    }
  }
  return [...out].sort();
}
