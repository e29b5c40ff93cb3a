// Generates the README's inputs and outputs tables from action.yml.
//   node scripts/readme-tables.mjs --write   rewrite them in place
//   node scripts/readme-tables.mjs --check   fail if they differ from action.yml
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as prettier from 'prettier';
import { parse } from 'yaml';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const action = parse(readFileSync(join(root, 'action.yml'), 'utf8'));
const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');

const cell = (s) => String(s).trim().replace(/\s+/g, ' ').replace(/\|/g, '\\|');
const code = (s) =>
  s.includes('\n')
    ? s
        .trim()
        .split('\n')
        .map((l) => `\`${l.trim()}\``)
        .join('<br>')
    : `\`${s}\``;

const inputs =
  '| input | default | description |\n|---|---|---|\n' +
  Object.entries(action.inputs)
    .map(
      ([name, spec]) =>
        `| \`${name}\` | ${spec.default === '' ? '""' : code(spec.default ?? '')} | ${cell(spec.description)} |`,
    )
    .join('\n');
const outputs =
  '| output | description |\n|---|---|\n' +
  Object.entries(action.outputs)
    .map(([name, spec]) => `| \`${name}\` | ${cell(spec.description)} |`)
    .join('\n');

function replace(text, name, table) {
  const start = `<!-- ${name}:start (generated from action.yml by npm run docs) -->`;
  const end = `<!-- ${name}:end -->`;
  const i = text.indexOf(start);
  const j = text.indexOf(end);
  if (i < 0 || j < i) throw new Error(`README.md lacks the ${name} markers`);
  return text.slice(0, i + start.length) + '\n' + table + '\n' + text.slice(j);
}

// Formatted as `npm run format` would, so the check and prettier agree.
const options = (await prettier.resolveConfig(readmePath)) ?? {};
const next = await prettier.format(replace(replace(readme, 'inputs', inputs), 'outputs', outputs), {
  ...options,
  filepath: readmePath,
});
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md inputs/outputs tables differ from action.yml: run npm run docs');
    process.exit(1);
  }
  console.log('README.md tables match action.yml');
} else {
  writeFileSync(readmePath, next);
  console.log('README.md tables written');
}
