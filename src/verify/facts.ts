/**
 * Adapters from what was measured to the judge's input: the record computed
 * while extracting or reading the module cache, and, for modules Go itself
 * downloaded in this job, the cheap scan of the download area.
 */
import type { ExtractRecord } from './record.js';
import type { CacheScan } from '../go/modcache.js';
import type { ModuleFacts } from './judge.js';

/** A tree or zip that could not be hashed never matches go.sum. */
const unhashable = (why: string): string => `(unhashable: ${why})`;

export function factsFromRecord(record: ExtractRecord): ModuleFacts[] {
  return record.modules.map((m) => ({
    path: m.path,
    version: m.version,
    treeH1: m.treeError ? unhashable(m.treeError) : m.treeH1,
    zipH1: m.zipError ? unhashable(m.zipError) : m.zipH1,
    ziphash: m.ziphash,
    modH1: m.modH1,
    info: m.info,
    ...(m.infoTime !== undefined ? { infoTime: m.infoTime } : {}),
    partial: m.partial,
  }));
}

/**
 * Facts for versions Go downloaded fresh in this job: Go checked each zip
 * against go.sum before writing its `.ziphash` and extracted the tree from
 * that zip, so the tree is not hashed again (that would double a cold job).
 * A version already known keeps its measured facts, completed by what the
 * scan adds (a tree or a go.mod that was missing).
 */
export function mergeFresh(known: ModuleFacts[], scan: CacheScan): ModuleFacts[] {
  const byId = new Map(known.map((f) => [`${f.path}@${f.version}`, { ...f }]));
  for (const v of scan.versions) {
    const id = `${v.path}@${v.version}`;
    const prev = byId.get(id);
    const fresh: ModuleFacts = {
      path: v.path,
      version: v.version,
      ziphash: v.ziphash,
      modH1: v.modHash,
      partial: v.partial,
      fresh: v.ziphash !== undefined && !v.partial,
    };
    if (!prev) {
      byId.set(id, fresh);
      continue;
    }
    if (prev.treeH1 === undefined && !prev.fresh && fresh.fresh) {
      byId.set(id, { ...fresh, modH1: prev.modH1 ?? fresh.modH1 });
    } else if (prev.modH1 === undefined && fresh.modH1 !== undefined) {
      prev.modH1 = fresh.modH1;
    }
  }
  return [...byId.values()];
}
