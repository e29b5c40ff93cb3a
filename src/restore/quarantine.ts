/**
 * The quarantine: where a restore puts a cache entry until main has proven it.
 *
 * pre (or main, when pre did not run) extracts an entry into a directory
 * beside GOMODCACHE, `<dirname(GOMODCACHE)>/.verified-go-cache-quarantine/<run>`,
 * never into GOMODCACHE itself: no go command of any step looks there. Once
 * main has judged the record against go.sum, each version's proven files are
 * moved into GOMODCACHE (a rename: the same file system; a copy where the two
 * are not, EXDEV), its `.info` written anew from what was verified, and the
 * quarantine is removed. Whatever go.sum does not prove stays behind and goes
 * with it.
 */
import { chmodSync, mkdirSync, promises as fs, renameSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { escapeModulePath, sumId } from '../go/gosum.js';
import { trustedInfo } from '../go/layout.js';
import { forceRemove } from '../go/modcache.js';
import type { Judgement, ModuleFacts } from '../verify/judge.js';

/** The folder beside GOMODCACHE that holds each run's quarantine. */
export const QUARANTINE_FOLDER = '.verified-go-cache-quarantine';

/** A new quarantine directory for a module cache (not created): unique per run, stage and process. */
export function quarantineFor(modCache: string, env: NodeJS.ProcessEnv = process.env): string {
  const run = `${env['GITHUB_RUN_ID'] || 'local'}-${env['GITHUB_RUN_ATTEMPT'] || '1'}`;
  return path.join(
    path.dirname(path.resolve(modCache)),
    QUARANTINE_FOLDER,
    `${run}-${process.pid}-${Date.now()}`,
  );
}

/** What moves out of the quarantine for one module version. */
export interface Promotion {
  path: string;
  version: string;
  /** The extracted tree `<escaped path>@<escaped version>/`. */
  tree: boolean;
  zip: boolean;
  ziphash: boolean;
  mod: boolean;
  /** The `.info` written for it (rewritten: see trustedInfo), or none. */
  info?: string;
}

/**
 * Pure: what of each version the record describes may enter GOMODCACHE, given
 * the judgement against go.sum and the toolchains proven by checkToolchains.
 *
 * - A verified version: its tree and `.ziphash` (they match go.sum), its zip
 *   when that was hashed and matches too.
 * - Any other version go.sum names: its zip only when it hashes to go.sum's
 *   line (Go then rebuilds the tree from it, hashing the zip itself, when
 *   a repair or download asks), never its tree or `.ziphash`.
 * - A proven toolchain (go.sum never names one): tree, `.ziphash`, a zip that
 *   matched its `.ziphash`, and its `.mod`, which Go checks against the
 *   checksum database whenever it reads it.
 * - A `.mod` only when it hashes to go.sum's `/go.mod` line.
 * - A `.info` only beside something promoted, rewritten from the version and
 *   the entry's valid Time.
 * Versions go.sum does not name, and unproven toolchains, stay out.
 */
export function promotionPlan(
  facts: readonly ModuleFacts[],
  j: Judgement,
  sums: ReadonlyMap<string, string>,
  toolchains: ReadonlySet<string>,
): Promotion[] {
  const verified = new Set(j.verified);
  const out: Promotion[] = [];
  for (const m of facts) {
    const id = `${m.path}@${m.version}`;
    const wantZip = sums.get(id);
    const wantMod = sums.get(sumId(m.path, m.version, true));
    const p: Promotion = {
      path: m.path,
      version: m.version,
      tree: false,
      zip: false,
      ziphash: false,
      mod: m.modH1 !== undefined && m.modH1 === wantMod,
    };
    if (toolchains.has(id)) {
      p.tree = m.treeH1 !== undefined;
      p.ziphash = m.ziphash !== undefined;
      p.zip = m.zipH1 !== undefined && m.zipH1 === m.ziphash;
      p.mod = m.modH1 !== undefined;
    } else if (wantZip !== undefined) {
      p.zip = m.zipH1 !== undefined && m.zipH1 === wantZip;
      if (verified.has(id)) {
        p.tree = m.treeH1 === wantZip;
        p.ziphash = m.ziphash === wantZip;
      }
    }
    if (!p.tree && !p.zip && !p.ziphash && !p.mod) continue;
    if (m.info) p.info = trustedInfo(m.version, m.infoTime);
    out.push(p);
  }
  return out;
}

/** Pure: the facts of the module cache once `plan` is promoted into an empty one. */
export function promotedFacts(
  facts: readonly ModuleFacts[],
  plan: readonly Promotion[],
): ModuleFacts[] {
  const byId = new Map(facts.map((f) => [`${f.path}@${f.version}`, f]));
  return plan.map((p) => {
    const m = byId.get(`${p.path}@${p.version}`)!;
    const out: ModuleFacts = { path: p.path, version: p.version, info: p.info !== undefined };
    if (p.tree) out.treeH1 = m.treeH1;
    if (p.zip) out.zipH1 = m.zipH1;
    if (p.ziphash) out.ziphash = m.ziphash;
    if (p.mod) out.modH1 = m.modH1;
    if (p.info !== undefined && m.infoTime !== undefined) out.infoTime = m.infoTime;
    return out;
  });
}

/** Relative paths of one version's tree and download files. */
function versionPaths(p: string, v: string): { tree: string; base: string } {
  return {
    tree: `${escapeModulePath(p)}@${escapeModulePath(v)}`,
    base: `cache/download/${escapeModulePath(p)}/@v/${escapeModulePath(v)}`,
  };
}

export interface Promoted {
  versions: number;
  files: number;
  /** The quarantine was on another file system: files were copied, not renamed. */
  copied: boolean;
}

/** Copies a tree as Go leaves one: files 0444, directories 0555 once filled. */
async function copyTree(from: string, to: string): Promise<number> {
  await fs.mkdir(to, { mode: 0o755 });
  let n = 0;
  for (const e of await fs.readdir(from, { withFileTypes: true })) {
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) n += await copyTree(a, b);
    else if (e.isFile()) {
      await fs.copyFile(a, b, fs.constants.COPYFILE_EXCL);
      await fs.chmod(b, 0o444);
      n++;
    }
  }
  await fs.chmod(to, 0o555);
  return n;
}

/**
 * Moves the planned files from the quarantine `q` into `modCache` (which held
 * nothing of them), then removes the quarantine. A rename where both are on
 * one file system; where they are not (pre guessed another GOMODCACHE than
 * Go's), a copy.
 */
export async function promote(
  q: string,
  modCache: string,
  plan: readonly Promotion[],
): Promise<Promoted> {
  const out: Promoted = { versions: 0, files: 0, copied: false };
  const made = new Set<string>();
  // Synchronous calls: a warm hit moves a few thousand files, and each
  // asynchronous call's trip through libuv's thread pool cost more than the
  // rename itself (0.45 s against 0.05 s on the real workload). Nothing else
  // runs on main's thread while it promotes.
  const mkdirs = (dir: string): void => {
    if (made.has(dir)) return;
    mkdirSync(dir, { recursive: true });
    made.add(dir);
  };
  const move = async (rel: string, tree: boolean): Promise<void> => {
    const from = path.join(q, ...rel.split('/'));
    const to = path.join(modCache, ...rel.split('/'));
    mkdirs(path.dirname(to));
    // Moving a directory updates its `..`: the read-only tree root must be writable for that.
    if (tree) chmodSync(from, 0o755);
    try {
      renameSync(from, to);
      if (tree) chmodSync(to, 0o555);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EXDEV') throw e;
      out.copied = true;
      if (tree) out.files += (await copyTree(from, to)) - 1;
      else await fs.copyFile(from, to, fs.constants.COPYFILE_EXCL);
    }
    out.files++;
  };
  for (const p of plan) {
    const { tree, base } = versionPaths(p.path, p.version);
    if (p.tree) await move(tree, true);
    if (p.zip) await move(`${base}.zip`, false);
    if (p.ziphash) await move(`${base}.ziphash`, false);
    if (p.mod) await move(`${base}.mod`, false);
    if (p.info !== undefined) {
      const to = path.join(modCache, ...`${base}.info`.split('/'));
      mkdirs(path.dirname(to));
      writeFileSync(to, p.info, { mode: 0o644, flag: 'wx' });
      out.files++;
    }
    out.versions++;
  }
  await removeQuarantine(q);
  return out;
}

/** Removes a quarantine (read-only trees included), and the folder of quarantines once empty. */
export async function removeQuarantine(q: string | undefined): Promise<void> {
  // Only ever a directory this file named: state files are read back, not trusted.
  if (!q || path.basename(path.dirname(q)) !== QUARANTINE_FOLDER) return;
  await forceRemove(q);
  await fs.rmdir(path.dirname(q)).catch(() => undefined);
}
