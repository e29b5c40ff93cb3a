/**
 * Targeted repair: remove only the bad module versions and have Go fetch them
 * again, or rebuild their trees offline from a cached zip that still matches
 * go.sum (Go re-extracts a missing or `.partial` tree from the zip, and
 * re-hashes a zip whose `.ziphash` is missing, checking it against go.sum).
 * Then hash what Go wrote, from disk, against go.sum.
 */
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import { escapeModulePath, splitModuleId, sumId } from '../go/gosum.js';
import { forceRemove } from '../go/modcache.js';
import type { Go } from '../go/toolchain.js';
import { hashDirOnDisk, hashZipBuffer } from './dirhash.js';
import type { RepairHow } from './judge.js';

export interface RepairItem {
  path: string;
  version: string;
  how: RepairHow;
}

export interface Repaired {
  module: string;
  how: RepairHow;
  /** Bytes Go fetched for it (the zip and go.mod it downloaded); 0 when rebuilt offline. */
  fetchedBytes: number;
}

export interface RepairResult {
  repaired: Repaired[];
  /** `module: why` for every version the targeted repair could not heal. */
  failed: string[];
  /** What `go mod download` printed on stderr (a SECURITY ERROR is printed there, not in the JSON). */
  stderr: string;
}

function files(modCache: string, p: string, v: string): { tree: string; base: string } {
  return {
    tree: path.join(modCache, ...`${escapeModulePath(p)}@${escapeModulePath(v)}`.split('/')),
    base: path.join(
      modCache,
      'cache',
      'download',
      ...escapeModulePath(p).split('/'),
      '@v',
      escapeModulePath(v),
    ),
  };
}

async function sizeOf(file: string): Promise<number> {
  try {
    return (await fs.stat(file)).size;
  } catch {
    return 0;
  }
}

/**
 * Before Go fetches versions whose tree is missing: with a `.ziphash` beside a
 * cached zip, Go compares only that file with go.sum and unpacks the zip
 * without hashing it. Removing the `.ziphash` of such a version (`path@version`)
 * makes Go hash the zip itself, with its own zip reader, before it unpacks it.
 */
export async function distrustZiphashes(modCache: string, ids: string[]): Promise<void> {
  await Promise.all(
    ids.map(async (id) => {
      const { path: p, version } = splitModuleId(id);
      const f = files(modCache, p, version);
      if (await sizeOf(f.base + '.zip')) await fs.rm(f.base + '.ziphash', { force: true });
    }),
  );
}

/** Removes what Go must rebuild: the tree always, the downloaded files unless the zip is good. */
async function clear(modCache: string, item: RepairItem): Promise<void> {
  const f = files(modCache, item.path, item.version);
  await forceRemove(f.tree);
  const gone = ['.partial', '.ziphash'];
  if (item.how === 'download') gone.push('.zip', '.mod', '.info');
  await Promise.all(gone.map((x) => fs.rm(f.base + x, { force: true })));
}

/** Hashes a repaired version from disk and compares it with go.sum. */
async function check(
  modCache: string,
  item: RepairItem,
  sums: Map<string, string>,
): Promise<string | undefined> {
  const f = files(modCache, item.path, item.version);
  const want = sums.get(sumId(item.path, item.version, false));
  if (want === undefined) return undefined;
  const tree = await hashDirOnDisk(f.tree, `${item.path}@${item.version}`).catch(() => undefined);
  if (tree !== want) return `tree hashes to ${tree ?? '(missing)'} after repair`;
  const ziphash = (await fs.readFile(f.base + '.ziphash', 'utf8').catch(() => '')).trim();
  if (ziphash !== want) return `.ziphash is ${ziphash || '(missing)'} after repair`;
  const zip = await fs.readFile(f.base + '.zip').catch(() => undefined);
  if (zip && hashZipBuffer(zip) !== want) return 'zip content differs from go.sum after repair';
  return undefined;
}

export async function repairModules(
  go: Go,
  modCache: string,
  cwd: string,
  items: RepairItem[],
  sums: Map<string, string>,
  env: Record<string, string> = {},
): Promise<RepairResult> {
  const result: RepairResult = { repaired: [], failed: [], stderr: '' };
  if (items.length === 0) return result;
  await Promise.all(items.map((i) => clear(modCache, i)));
  const ids = items.map((i) => `${i.path}@${i.version}`);
  const r = await go.run(['mod', 'download', '-json', ...ids], cwd, env);
  result.stderr = r.stderr;
  const errors = new Map<string, string>();
  for (const m of parseJsonStream(r.stdout)) {
    if (m['Error']) errors.set(`${String(m['Path'])}@${String(m['Version'])}`, String(m['Error']));
  }
  for (const item of items) {
    const id = `${item.path}@${item.version}`;
    const goError = errors.get(id);
    if (goError) {
      result.failed.push(`${id}: ${goError}`);
      continue;
    }
    const why = await check(modCache, item, sums);
    if (why) {
      result.failed.push(`${id}: ${why}`);
      continue;
    }
    const f = files(modCache, item.path, item.version);
    const fetchedBytes =
      item.how === 'download'
        ? (await sizeOf(f.base + '.zip')) + (await sizeOf(f.base + '.mod'))
        : 0;
    result.repaired.push({ module: id, how: item.how, fetchedBytes });
  }
  if (r.code !== 0 && result.failed.length === 0 && errors.size === 0) {
    result.failed.push(
      `go mod download failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`,
    );
  }
  return result;
}

/** Splits the concatenated JSON objects `go ... -json` prints. */
export function parseJsonStream(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) {
      out.push(JSON.parse(text.slice(start, i + 1)) as Record<string, unknown>);
    }
  }
  return out;
}
