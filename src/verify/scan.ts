/**
 * The record of a module cache already on disk (restored earlier, repaired, or
 * the runner's own): each tree hashed with HashDir, each zip with HashZip, in
 * the worker pool; `.ziphash` and `.mod` read.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { filePlaceOf, placeOf } from '../go/layout.js';
import { Limiter, readRegularFile } from './dirhash.js';
import { RecordBuilder, type ExtractRecord, type ModuleRecord } from './record.js';
import { HashWorkers } from './workers.js';

/** Worker threads hashing (as many as cores, at most 4, by default); 0 hashes on the calling thread. */
export interface ScanOptions {
  workers?: number;
  /**
   * Only these module versions (`path@version`): their trees, zips and
   * download files are hashed and read, nothing else is (after a targeted
   * repair, the only versions whose files changed). Everything by default.
   */
  only?: ReadonlySet<string>;
}

/** Lists files (relative, forward slashes) under dir; directories that are module trees are reported apart. */
async function walk(
  root: string,
  rel: string,
  onTree: (rel: string) => void,
  onFile: (rel: string) => void,
  onOdd: (rel: string) => void,
): Promise<void> {
  const entries = await fs.readdir(rel === '' ? root : path.join(root, ...rel.split('/')), {
    withFileTypes: true,
  });
  await Promise.all(
    entries.map(async (e) => {
      const child = rel === '' ? e.name : `${rel}/${e.name}`;
      const place = placeOf(child);
      if (e.isDirectory()) {
        if (place.kind === 'tree' && place.inner === '') onTree(child);
        else await walk(root, child, onTree, onFile, onOdd);
      } else if (e.isFile()) onFile(child);
      else onOdd(child);
    }),
  );
}

/**
 * The ExtractRecord of a module cache already on disk: each tree hashed with
 * HashDir, each zip with HashZip (in the worker pool), `.ziphash`/`.mod` read.
 * For caches restored earlier, after repairs, and as a cross-check of
 * extractArchive. Trees and zips are processed in parallel.
 */
export async function recordFromDisk(
  modCache: string,
  o: ScanOptions = {},
): Promise<ExtractRecord> {
  const root = path.resolve(modCache);
  const rb = new RecordBuilder();
  const trees: string[] = [];
  const files: string[] = [];
  // Symlinks, fifos and devices outside trees are only listed: Go never makes them, and
  // reading one could leave the cache or block.
  const wanted = (p: string, v: string): boolean => !o.only || o.only.has(`${p}@${v}`);
  await walk(
    root,
    '',
    (t) => trees.push(t),
    (f) => files.push(f),
    (odd) => {
      if (!o.only) rb.other.push(odd);
    },
  );
  const workers = new HashWorkers(o.workers);
  const limiter = new Limiter(16);
  const abs = (rel: string) => path.join(root, ...rel.split('/'));
  try {
    /** Zips by module, with the module's record. */
    const zipOf = new Map<string, { zip: string; m: ModuleRecord }>();
    const smallJobs: Promise<void>[] = [];
    for (const f of files) {
      const place = filePlaceOf(f);
      if (place.kind !== 'download') {
        if (!o.only) rb.other.push(f);
        continue;
      }
      if (!wanted(place.path, place.version)) continue;
      if (place.ext === '.info' || place.ext === '.partial') {
        rb.downloadFile(place.path, place.version, place.ext);
        continue;
      }
      if (place.ext === '.zip') {
        zipOf.set(`${place.path}@${place.version}`, {
          zip: f,
          m: rb.module(place.path, place.version),
        });
        continue;
      }
      smallJobs.push(
        limiter
          .run(() => readRegularFile(abs(f)))
          .then((data) => rb.downloadFile(place.path, place.version, place.ext, data)),
      );
    }
    // A tree with its zip is one job (one sha256 per file the two share); the
    // biggest zips go first so that no large module is left running alone at the end.
    type TreeJob = { m: ModuleRecord; prefix: string; tree: string };
    const pairs: (TreeJob & { zip: string; size: number })[] = [];
    const treesAlone: TreeJob[] = [];
    for (const t of trees) {
      const place = placeOf(t);
      if (place.kind !== 'tree' || !wanted(place.path, place.version)) continue;
      const prefix = `${place.path}@${place.version}`;
      const job = { m: rb.module(place.path, place.version), prefix, tree: t };
      const zip = zipOf.get(prefix);
      if (zip === undefined) treesAlone.push(job);
      else {
        zipOf.delete(prefix);
        pairs.push({ ...job, zip: zip.zip, size: 0 });
      }
    }
    await Promise.all(
      pairs.map(async (p) => {
        p.size = await fs.stat(abs(p.zip)).then(
          (st) => st.size,
          () => 0,
        );
      }),
    );
    pairs.sort((a, b) => b.size - a.size);
    const message = (e: unknown) => (e instanceof Error ? e.message : String(e));
    const pairJobs = pairs.map(async ({ m, prefix, tree, zip }) => {
      try {
        const r = await workers.hashModule(abs(tree), prefix, abs(zip));
        if (r.tree) {
          m.treeH1 = r.tree.h1;
          m.treeFiles = r.tree.files;
        }
        if (r.treeError !== undefined) m.treeError = r.treeError;
        if (r.zipH1 !== undefined) m.zipH1 = r.zipH1;
        if (r.zipError !== undefined) m.zipError = r.zipError;
      } catch (e) {
        m.treeError = m.zipError = message(e);
      }
    });
    const zipJobs = [...zipOf.values()].map(async ({ zip, m }) => {
      try {
        m.zipH1 = await workers.hashZipFile(abs(zip));
      } catch (e) {
        m.zipError = message(e);
      }
    });
    const treeJobs = treesAlone.map(async ({ m, prefix, tree }) => {
      try {
        const { h1, files: n } = await workers.hashTree(abs(tree), prefix);
        m.treeH1 = h1;
        m.treeFiles = n;
      } catch (e) {
        m.treeError = message(e);
      }
    });
    await Promise.all([...pairJobs, ...zipJobs, ...treeJobs, ...smallJobs]);
  } finally {
    await workers.close();
  }
  return rb.build();
}
