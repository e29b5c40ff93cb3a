/**
 * The verdict on a module cache, from hashes computed while it was extracted
 * (or read from disk) and the go.sum files. Pure: no disk, no go command.
 *
 * `verified=true` promises three things, and this is where each is decided:
 * - every module version go.sum names is there (tree, .ziphash, .mod; the zip
 *   too unless the entry is lean) — completeness;
 * - each of them hashes to go.sum's value: the tree as extracted, the zip's
 *   content, the cache's own .ziphash and the .mod file;
 * - nothing go.sum does not name is counted as verified (toolchains and stale
 *   versions are listed apart, and left out of saved entries unless verified
 *   another way).
 */
import { sumId } from '../go/gosum.js';
import type { BadModule } from '../go/goout.js';

/** What is known of one module version in the cache: hashes computed from its bytes. */
export interface ModuleFacts {
  path: string;
  version: string;
  /** dirhash of the extracted tree `<path>@<version>/`, absent when there is no tree. */
  treeH1?: string;
  /** dirhash of the zip's content, absent when there is no zip. */
  zipH1?: string;
  /** The cache's own `.ziphash` file, trimmed. */
  ziphash?: string;
  /** h1 of the `.mod` file, as go.sum's `/go.mod` lines record it. */
  modH1?: string;
  info?: boolean;
  /** The `.info` file's Time, when valid RFC 3339: what a rewritten `.info` keeps. */
  infoTime?: string;
  partial?: boolean;
  /**
   * Downloaded by Go in this job: Go checked the zip against go.sum and
   * extracted the tree from it, so the tree counts as present without a hash.
   */
  fresh?: boolean;
}

export type RepairHow = 're-extract' | 'download';

export interface BadVersion extends BadModule {
  path: string;
  version: string;
  /** re-extract: the zip matches go.sum, so Go rebuilds the tree offline; download: fetch again. */
  how: RepairHow;
}

export interface Judgement {
  bad: BadVersion[];
  /** `path@version` whose tree (and zip, .ziphash) match go.sum. */
  verified: string[];
  /**
   * Those of `verified` whose zip is known to match go.sum: hashed here, or
   * checked by Go as it downloaded it in this job. A saved entry carries such
   * a module as its zip alone; the restore writes the tree from it.
   */
  verifiedZips: string[];
  /**
   * `path@version` whose .mod alone goes into an entry, matching go.sum: versions
   * only the module graph needs, and versions whose zip go.sum names but the
   * cache lacks (they are in `missing` too) while their go.mod is there.
   */
  verifiedModOnly: string[];
  /** go.sum names these but the cache lacks them (tree, .ziphash or the zip of a full entry). */
  missing: string[];
  /** go.sum names these `/go.mod` files but the cache lacks them. */
  missingMods: string[];
  /** Module versions go.sum does not name: toolchains, stale versions. Never counted as verified. */
  unnamed: ModuleFacts[];
}

function id(path: string, version: string): string {
  return `${path}@${version}`;
}

/** Versions named by go.sum, split into those whose tree is needed and those needing go.mod only. */
export function namedVersions(sums: Map<string, string>): { zip: string[]; mod: string[] } {
  const zip: string[] = [];
  const mod: string[] = [];
  for (const key of sums.keys()) {
    if (key.endsWith('/go.mod')) mod.push(key.slice(0, -'/go.mod'.length));
    else zip.push(key);
  }
  return { zip: zip.sort(), mod: mod.sort() };
}

function checkOne(
  m: ModuleFacts,
  wantZip: string,
  o: { zipsExpected: boolean },
): { problems: string[]; how: RepairHow; complete: boolean } {
  const problems: string[] = [];
  const zipGood = m.zipH1 !== undefined && m.zipH1 === wantZip;
  if (m.zipH1 !== undefined && m.zipH1 !== wantZip) {
    problems.push(`zip content hashes to ${m.zipH1}, go.sum says ${wantZip}`);
  }
  if (m.treeH1 !== undefined && m.treeH1 !== wantZip) {
    problems.push(`extracted files hash to ${m.treeH1}, go.sum says ${wantZip}`);
  }
  if (m.ziphash !== undefined && m.ziphash !== wantZip) {
    problems.push(`.ziphash says ${m.ziphash}, go.sum says ${wantZip}`);
  }
  if (m.partial) problems.push('leftover .partial file: an extraction was interrupted');
  if (m.treeH1 !== undefined && m.ziphash === undefined) {
    problems.push('extracted tree without its .ziphash');
  }
  const tree = m.treeH1 !== undefined || m.fresh === true;
  const complete =
    tree &&
    m.ziphash !== undefined &&
    (!o.zipsExpected || m.zipH1 !== undefined || m.fresh === true);
  return { problems, how: zipGood ? 're-extract' : 'download', complete };
}

export function judge(
  modules: ModuleFacts[],
  sums: Map<string, string>,
  o: { zipsExpected: boolean },
): Judgement {
  const byId = new Map(modules.map((m) => [id(m.path, m.version), m]));
  const named = namedVersions(sums);
  const out: Judgement = {
    bad: [],
    verified: [],
    verifiedZips: [],
    verifiedModOnly: [],
    missing: [],
    missingMods: [],
    unnamed: [],
  };
  const zipNamed = new Set(named.zip);
  const modNamed = new Set(named.mod);
  const badIds = new Set<string>();
  const addBad = (m: ModuleFacts, reason: string, how: RepairHow): void => {
    out.bad.push({ module: id(m.path, m.version), path: m.path, version: m.version, reason, how });
    badIds.add(id(m.path, m.version));
  };

  for (const m of modules) {
    const key = id(m.path, m.version);
    const wantMod = sums.get(sumId(m.path, m.version, true));
    if (m.modH1 !== undefined && wantMod !== undefined && m.modH1 !== wantMod) {
      addBad(m, `go.mod hashes to ${m.modH1}, go.sum says ${wantMod}`, 'download');
    }
    if (!zipNamed.has(key) && !modNamed.has(key)) {
      out.unnamed.push(m);
      continue;
    }
    if (!zipNamed.has(key)) continue;
    const want = sums.get(key)!;
    const r = checkOne(m, want, o);
    for (const p of r.problems) addBad(m, p, badIds.has(key) ? 'download' : r.how);
    if (!badIds.has(key) && r.complete) {
      out.verified.push(key);
      if (m.zipH1 === want || (m.fresh === true && m.zipH1 === undefined))
        out.verifiedZips.push(key);
    }
  }
  const verified = new Set(out.verified);
  for (const key of named.zip) {
    if (badIds.has(key) || verified.has(key)) continue;
    out.missing.push(key);
  }
  const missingZip = new Set(out.missing);
  for (const key of named.mod) {
    const m = byId.get(key);
    if (missingZip.has(key)) {
      // go.sum names its zip, but the build does not need it (an untidy go.sum):
      // Go fetched only the go.mod, which the module graph reads. A matching one
      // is kept, so go list -m all and go mod verify stay offline on a restore.
      if (m?.modH1 !== undefined && !badIds.has(key)) out.verifiedModOnly.push(key);
      continue;
    }
    if (m?.modH1 !== undefined && !badIds.has(key)) {
      if (!zipNamed.has(key)) out.verifiedModOnly.push(key);
      continue;
    }
    if (!badIds.has(key)) out.missingMods.push(key);
  }
  // A bad version is repaired by download when any of its problems needs one.
  const needsDownload = new Set(out.bad.filter((b) => b.how === 'download').map((b) => b.module));
  for (const b of out.bad) if (needsDownload.has(b.module)) b.how = 'download';
  return out;
}

/** True when the cache holds everything go.sum names and all of it matched. */
export function isComplete(j: Judgement): boolean {
  return j.bad.length === 0 && j.missing.length === 0 && j.missingMods.length === 0;
}

/** The distinct bad module versions with the repair each needs. */
export function repairPlan(j: Judgement): { path: string; version: string; how: RepairHow }[] {
  const seen = new Map<string, { path: string; version: string; how: RepairHow }>();
  for (const b of j.bad) {
    const prev = seen.get(b.module);
    if (!prev) seen.set(b.module, { path: b.path, version: b.version, how: b.how });
    else if (b.how === 'download') prev.how = 'download';
  }
  return [...seen.values()];
}
