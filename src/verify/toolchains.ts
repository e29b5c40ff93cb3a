/**
 * Toolchains in the module cache (`golang.org/toolchain@v0.0.1-go<ver>.<os>-<arch>`,
 * downloaded when GOTOOLCHAIN switches). go.sum never names them and `go mod
 * verify` skips them; Go checks their `.ziphash` against the checksum database
 * but never re-hashes their tree. A tree changed behind an intact `.ziphash`
 * would be executed by the next `go` command that switches to it.
 *
 * So, before any go command may switch toolchains: every cached toolchain's
 * tree (and zip) must hash to its `.ziphash`, and that `.ziphash` must pass
 * Go's own checksum-database check. For golang.org/toolchain Go insists on
 * that check even under GOSUMDB=off or a matching GONOSUMDB/GOPRIVATE
 * (modfetch.useSumDB: "downloaded toolchains cannot be listed in go.sum"); its
 * only exceptions are a GOPROXY that is a single file:// URL and the proxy's
 * own bootstrap. Running Go's check therefore honours exactly what Go honours.
 * One that fails is removed.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { forceRemove } from '../go/modcache.js';
import type { Go } from '../go/toolchain.js';
import { entryPaths } from '../go/layout.js';
import { dirDigests, hash1, type FileDigest } from './dirhash.js';
import type { ModuleFacts } from './judge.js';

export const TOOLCHAIN_MODULE = 'golang.org/toolchain';

export interface ToolchainCheck {
  /** `path@version` of toolchains that passed both checks. */
  verified: string[];
  /**
   * Those of `verified` whose zip was itself hashed (as the restore unpacked
   * it) and matched: only these may be saved as their zip alone.
   */
  zipChecked: string[];
  removed: { module: string; reason: string }[];
  /** Milliseconds spent per toolchain (tree hash plus Go's checksum-database check). */
  ms: Record<string, number>;
}

/**
 * Pure: the files of a toolchain tree as its zip had them. On first use Go
 * copies every `_go.mod` of a toolchain to a `go.mod` beside it
 * (cmd/go/internal/toolchain, so that the toolchain's source is not a module
 * of its own in the zip but is one in GOROOT); such a copy is left out. A
 * `go.mod` whose content differs from its `_go.mod` is kept, so it fails the
 * hash like any other change.
 */
export function withoutGoModCopies(files: readonly FileDigest[]): FileDigest[] {
  const underscore = new Map<string, string>();
  for (const f of files) {
    if (f.name === '_go.mod' || f.name.endsWith('/_go.mod'))
      underscore.set(f.name.slice(0, -'_go.mod'.length), f.sha256hex);
  }
  return files.filter((f) => {
    if (f.name !== 'go.mod' && !f.name.endsWith('/go.mod')) return true;
    return underscore.get(f.name.slice(0, -'go.mod'.length)) !== f.sha256hex;
  });
}

/** The dirhash of a cached toolchain's tree as Go extracted it, or undefined without a tree. */
async function toolchainTreeH1(modCache: string, id: string): Promise<string | undefined> {
  const { tree } = entryPaths(id, { tree: true, zip: false });
  const digests = await dirDigests(path.join(modCache, tree!), id).catch(() => undefined);
  return digests === undefined ? undefined : hash1(withoutGoModCopies(digests));
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

/**
 * Pure: whether a toolchain's zip, not only its tree, was hashed and found to
 * be what its `.ziphash` says. A zip nobody hashed (a toolchain that turned up
 * on disk after the restore) is never saved in place of the tree.
 */
export function toolchainZipChecked(m: ModuleFacts): boolean {
  return toolchainSelfCheck(m) === undefined && m.zipH1 !== undefined && m.zipH1 === m.ziphash;
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
  const out: ToolchainCheck = { verified: [], zipChecked: [], removed: [], ms: {} };
  const toolchains = unnamed.filter((m) => m.path === TOOLCHAIN_MODULE);
  if (toolchains.length === 0) return out;
  const scratch = await fs.mkdtemp(path.join(scratchParent, 'vgc-toolchain-'));
  try {
    for (const m of toolchains) {
      const id = `${m.path}@${m.version}`;
      const started = Date.now();
      // A scan that hashed the tree as it lies counts Go's go.mod copies (or
      // did not hash an unnamed version at all): hash it the toolchain's way.
      const treeH1 =
        m.treeH1 !== undefined && m.treeH1 === m.ziphash
          ? m.treeH1
          : await toolchainTreeH1(modCache, id);
      const self = toolchainSelfCheck({ ...m, treeH1 });
      if (self) {
        await removeVersion(modCache, id);
        out.removed.push({ module: id, reason: `${self}; it was never executed` });
        continue;
      }
      // Go compares the cached .ziphash with the checksum database here (or
      // skips it where Go would: only for a single file:// GOPROXY).
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
      if (toolchainZipChecked({ ...m, treeH1 })) out.zipChecked.push(id);
      out.ms[id] = Date.now() - started;
    }
  } finally {
    await fs.rm(scratch, { recursive: true, force: true });
  }
  return out;
}

export interface ToolchainFetch {
  fetched: string[];
  failed: { module: string; reason: string }[];
}

/**
 * Downloads toolchains the project needs but the cache lacks, without running
 * them: `go mod download <id>` by the go command the job was given
 * (GOTOOLCHAIN=local) in an empty directory. Go checks the download against
 * the checksum database exactly as a toolchain switch would (GOSUMDB=off does
 * not turn that off for toolchains), so what lands in the cache is what the
 * switch would have fetched, and it is saved once.
 */
export async function fetchToolchains(
  go: Go,
  modCache: string,
  ids: readonly string[],
  scratchParent: string,
): Promise<ToolchainFetch> {
  const out: ToolchainFetch = { fetched: [], failed: [] };
  if (ids.length === 0) return out;
  const scratch = await fs.mkdtemp(path.join(scratchParent, 'vgc-toolchain-'));
  try {
    for (const id of ids) {
      const r = await go.run(['mod', 'download', '-json', id], scratch, {
        GOFLAGS: '-mod=mod',
        GOWORK: 'off',
        GOMODCACHE: modCache,
      });
      if (r.code === 0) out.fetched.push(id);
      else out.failed.push({ module: id, reason: r.stdout.trim() || r.stderr.trim() });
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
