// Bundles each stage with ncc into dist/<stage>/index.js (ESM, with its package.json).
import ncc from '@vercel/ncc';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
for (const stage of ['pre', 'main', 'post']) {
  const out = join(root, 'dist', stage);
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const { code, assets } = await ncc(join(root, 'src', `${stage}.ts`), {
    minify: false,
    sourceMap: false,
    license: 'licenses.txt',
    quiet: true,
    target: 'es2022',
  });
  writeFileSync(join(out, 'index.js'), code);
  for (const [name, asset] of Object.entries(assets ?? {})) {
    mkdirSync(dirname(join(out, name)), { recursive: true });
    writeFileSync(join(out, name), asset.source);
  }
  if (!assets?.['package.json']) writeFileSync(join(out, 'package.json'), '{"type":"module"}\n');
  console.log(`dist/${stage}/index.js`);
}
