// Bundles each stage with ncc into dist/<stage>/index.js (ESM, with its package.json).
// All three are bundled before any is written, so a failed build leaves dist/ as it was.
import ncc from '@vercel/ncc';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const stages = ['pre', 'main', 'post'];
const built = [];
for (const stage of stages) {
  const { code, assets } = await ncc(join(root, 'src', `${stage}.ts`), {
    minify: false,
    sourceMap: false,
    license: 'licenses.txt',
    quiet: true,
    target: 'es2022',
  });
  built.push({ stage, code, assets: assets ?? {} });
}
for (const { stage, code, assets } of built) {
  const out = join(root, 'dist', stage);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'index.js'), code);
  for (const [name, asset] of Object.entries(assets)) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), asset.source);
  }
  if (!assets['package.json']) writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  console.log(`dist/${stage}/index.js`);
}
