/**
 * Ways a module cache goes bad, applied to one module version in place.
 */
import { createHash } from 'node:crypto';
import {
  chmodSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
  mkdirSync,
  appendFileSync,
  unlinkSync,
} from 'node:fs';
import * as path from 'node:path';
import { hash1 } from '../../../src/verify/dirhash.js';
import { escapeModulePath } from '../../../src/go/gosum.js';
import { zipBuffer } from './zip.js';

export type Corruption =
  | 'modified-file'
  | 'extra-file'
  | 'deleted-file'
  | 'truncated-zip'
  | 'missing-ziphash'
  | 'leftover-partial'
  | 'consistent-replacement'
  | 'altered-go-mod';

export const CORRUPTIONS: Corruption[] = [
  'modified-file',
  'extra-file',
  'deleted-file',
  'truncated-zip',
  'missing-ziphash',
  'leftover-partial',
  'consistent-replacement',
  'altered-go-mod',
];

/** Kinds that change an extracted tree: they cannot exist in an entry that holds no tree. */
export const TREE_CORRUPTIONS: Corruption[] = ['modified-file', 'extra-file', 'deleted-file'];

/**
 * Kinds that exist in an entry in the format the action now saves (each
 * module as its zip, `.ziphash`, `.mod`, `.info`; no tree): applied to a full
 * module cache whose trees are then removed.
 */
export const ZIP_ONLY_CORRUPTIONS: Corruption[] = CORRUPTIONS.filter(
  (k) => !TREE_CORRUPTIONS.includes(k),
);

function makeWritable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) makeWritable(p);
    else chmodSync(p, 0o644);
  }
}

function makeReadOnly(dir: string): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) makeReadOnly(p);
    else chmodSync(p, 0o444);
  }
  chmodSync(dir, 0o555);
}

function listFiles(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(dir, r));
    else out.push(r);
  }
  return out;
}

/** Applies `kind` to module `modPath@version` in the module cache `modCache`. */
export function corrupt(
  modCache: string,
  modPath: string,
  version: string,
  kind: Corruption,
): void {
  const tree = path.join(
    modCache,
    ...`${escapeModulePath(modPath)}@${escapeModulePath(version)}`.split('/'),
  );
  const dl = path.join(
    modCache,
    'cache',
    'download',
    ...escapeModulePath(modPath).split('/'),
    '@v',
  );
  const base = path.join(dl, escapeModulePath(version));
  statSync(tree);
  switch (kind) {
    case 'modified-file': {
      makeWritable(tree);
      const file = listFiles(tree).find((f) => f.endsWith('.go') && !f.includes('/'))!;
      appendFileSync(path.join(tree, file), '\n// tampered\n');
      makeReadOnly(tree);
      return;
    }
    case 'extra-file':
      makeWritable(tree);
      writeFileSync(path.join(tree, 'extra.go'), 'package extra\n');
      makeReadOnly(tree);
      return;
    case 'deleted-file':
      makeWritable(tree);
      unlinkSync(path.join(tree, 'inner', 'deep', 'deep.go'));
      makeReadOnly(tree);
      return;
    case 'truncated-zip': {
      const size = statSync(base + '.zip').size;
      chmodSync(base + '.zip', 0o644);
      truncateSync(base + '.zip', Math.floor(size / 2));
      return;
    }
    case 'missing-ziphash':
      rmSync(base + '.ziphash');
      return;
    case 'leftover-partial':
      writeFileSync(base + '.partial', '');
      return;
    case 'consistent-replacement': {
      // Other content, with zip, ziphash and tree all agreeing with each other:
      // `go mod verify` passes; only go.sum knows better.
      makeWritable(tree);
      const files = listFiles(tree);
      const contents: Record<string, Buffer> = {};
      for (const f of files) contents[f] = readFileSync(path.join(tree, f));
      const goFile = files.find((f) => f.endsWith('.go') && !f.includes('/'))!;
      contents[goFile] = Buffer.from(
        contents[goFile]!.toString().replace(/return (.*)\}/, 'return 0 /* replaced */ }'),
      );
      const prefix = `${modPath}@${version}/`;
      const h = hash1(
        Object.entries(contents).map(([name, data]) => ({
          name: prefix + name,
          sha256hex: createHash('sha256').update(data).digest('hex'),
        })),
      );
      rmSync(tree, { recursive: true, force: true });
      mkdirSync(tree, { recursive: true });
      for (const [name, data] of Object.entries(contents)) {
        mkdirSync(path.dirname(path.join(tree, name)), { recursive: true });
        writeFileSync(path.join(tree, name), data);
      }
      makeReadOnly(tree);
      chmodSync(base + '.zip', 0o644);
      writeFileSync(
        base + '.zip',
        zipBuffer(Object.entries(contents).map(([name, data]) => ({ name: prefix + name, data }))),
      );
      chmodSync(base + '.ziphash', 0o644);
      writeFileSync(base + '.ziphash', h);
      return;
    }
    case 'altered-go-mod':
      // The `.mod` Go reads for the module graph (checked against go.sum's
      // `/go.mod` line), not the tree's own go.mod, which is part of the zip.
      chmodSync(base + '.mod', 0o644);
      appendFileSync(base + '.mod', '\n// tampered\n');
      return;
  }
}
