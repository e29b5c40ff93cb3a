#!/usr/bin/env node
/**
 * Lints the workflows users copy: every ```yaml block of README.md and every
 * file in .github/workflows, with actionlint (issue 9, point 2).
 *
 * README blocks come in three shapes and are linted as a workflow would hold
 * them:
 * - a whole workflow (has `jobs:`): as is;
 * - a job body (has `steps:`): under `jobs.readme-example`, with `runs-on`
 *   added when the block has none;
 * - a list of steps, or one step (has `uses:` or `run:`): as the steps of such
 *   a job.
 * Wrapping is textual (indentation only), so a finding maps back to its
 * README line. `uses: <owner>/verified-go-cache@<ref>` becomes `uses: ./`
 * next to a copy of action.yml, so actionlint also checks the example's
 * inputs and outputs against the action's metadata.
 *
 * Usage: node scripts/lint-workflows.mjs [--actionlint <path>]
 * Exit code: 0 clean, 1 findings, 2 setup problem (actionlint missing...).
 */
import { spawnSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const THIS_ACTION = /(uses:\s*)["']?[\w.-]+\/verified-go-cache@[\w.-]+["']?/g;

/**
 * The ```yaml / ```yml blocks of a markdown text, with the 1-based line of
 * each block's first content line.
 */
export function yamlBlocks(markdown) {
  const lines = markdown.split(/\r?\n/);
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*ya?ml\b/i.exec(lines[i]);
    if (!open) continue;
    const fence = open[2];
    const body = [];
    let j = i + 1;
    while (j < lines.length && !lines[j].trimStart().startsWith(fence)) body.push(lines[j++]);
    blocks.push({ line: i + 2, text: body.join('\n') + '\n' });
    i = j;
  }
  return blocks;
}

const indent = (text, n) =>
  text
    .split('\n')
    .map((l) => (l === '' ? l : ' '.repeat(n) + l))
    .join('\n');

/**
 * Wraps a README block into a workflow. Returns the workflow text and how
 * many lines were put before the block (to map findings back), or an error
 * when the block is not YAML or has no recognisable shape.
 */
export function wrapBlock(text) {
  let doc;
  try {
    doc = parseYaml(text);
  } catch (e) {
    return { error: `not valid YAML: ${e.message.split('\n')[0]}` };
  }
  const header = (lines) => ({ prefix: lines.length, head: lines.join('\n') + '\n' });
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'jobs' in doc) {
    return { workflow: text, offset: 0, shape: 'workflow' };
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc) && 'steps' in doc) {
    const h = header([
      'on: push',
      'jobs:',
      '  readme-example:',
      ...('runs-on' in doc ? [] : ['    runs-on: ubuntu-latest']),
    ]);
    return { workflow: h.head + indent(text, 4), offset: h.prefix, shape: 'job' };
  }
  const stepsHeader = header([
    'on: push',
    'jobs:',
    '  readme-example:',
    '    runs-on: ubuntu-latest',
    '    steps:',
  ]);
  if (Array.isArray(doc)) {
    return {
      workflow: stepsHeader.head + indent(text, 6),
      offset: stepsHeader.prefix,
      shape: 'steps',
    };
  }
  if (doc && typeof doc === 'object' && ('uses' in doc || 'run' in doc)) {
    const asItem = text
      .split('\n')
      .map((l, i) => (i === 0 ? `- ${l}` : l === '' ? l : `  ${l}`))
      .join('\n');
    return {
      workflow: stepsHeader.head + indent(asItem, 6),
      offset: stepsHeader.prefix,
      shape: 'step',
    };
  }
  return {
    error: 'neither a workflow (jobs:), a job (steps:), a list of steps nor a step (uses:/run:)',
  };
}

/** Points a README example's `uses: <owner>/verified-go-cache@vN` at the local action.yml. */
export function useLocalAction(workflow) {
  return workflow.replace(THIS_ACTION, '$1./');
}

function findActionlint(argv) {
  const flag = argv.indexOf('--actionlint');
  if (flag >= 0 && argv[flag + 1]) return argv[flag + 1];
  const local = path.join(ROOT, '.tools', 'bin', 'actionlint');
  if (existsSync(local)) return local;
  const which = spawnSync('sh', ['-c', 'command -v actionlint'], { encoding: 'utf8' });
  if (which.status === 0) return which.stdout.trim();
  return undefined;
}

/**
 * Runs actionlint on the files of a scratch project and returns its findings
 * (parsed from its JSON output). shellcheck and pyflakes are turned off so
 * that the result does not depend on what else happens to be installed.
 */
function actionlint(bin, project, files) {
  const r = spawnSync(bin, ['-format', '{{json .}}', '-shellcheck=', '-pyflakes=', ...files], {
    cwd: project,
    encoding: 'utf8',
  });
  if (r.error) throw r.error;
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(`actionlint failed (exit ${r.status}): ${r.stderr || r.stdout}`);
  }
  return r.stdout.trim() === '' ? [] : JSON.parse(r.stdout);
}

/**
 * Lints `root`'s .github/workflows/*.yml and README.md yaml blocks with the
 * actionlint binary `bin`. Returns the findings as `file:line:col: message`
 * lines (README lines are the README's own) and what was checked.
 */
export function lintProject(root, bin) {
  // A scratch project: actionlint reads ./action.yml for `uses: ./` from the
  // project root, which it finds by the .git directory.
  const project = mkdtempSync(path.join(os.tmpdir(), 'vgc-lint-'));
  try {
    mkdirSync(path.join(project, '.git'));
    mkdirSync(path.join(project, '.github', 'workflows'), { recursive: true });
    copyFileSync(path.join(root, 'action.yml'), path.join(project, 'action.yml'));
    // actionlint checks that the scripts action.yml names exist; their content does not matter.
    for (const stage of ['pre', 'main', 'post']) {
      mkdirSync(path.join(project, 'dist', stage), { recursive: true });
      writeFileSync(path.join(project, 'dist', stage, 'index.js'), '');
    }
    /** scratch file -> where its lines come from */
    const origin = new Map();
    const problems = [];

    const wfDir = path.join(root, '.github', 'workflows');
    const workflows = existsSync(wfDir)
      ? readdirSync(wfDir)
          .filter((n) => /\.ya?ml$/.test(n))
          .sort()
      : [];
    for (const name of workflows) {
      const file = path.join('.github', 'workflows', name);
      copyFileSync(path.join(root, file), path.join(project, file));
      origin.set(file, { source: file, offset: 0, base: 1 });
    }
    const readme = readFileSync(path.join(root, 'README.md'), 'utf8');
    const blocks = yamlBlocks(readme);
    blocks.forEach((block, i) => {
      const wrapped = wrapBlock(block.text);
      if (wrapped.error) {
        problems.push(`README.md:${block.line}: yaml block ${i + 1}: ${wrapped.error}`);
        return;
      }
      const file = path.join('.github', 'workflows', `readme-${i + 1}.yml`);
      writeFileSync(path.join(project, file), useLocalAction(wrapped.workflow));
      origin.set(file, { source: 'README.md', offset: wrapped.offset, base: block.line });
    });

    const findings = origin.size > 0 ? actionlint(bin, project, [...origin.keys()]) : [];
    for (const f of findings) {
      const o = origin.get(f.filepath) ?? origin.get(path.normalize(f.filepath));
      const line = o ? o.base + f.line - 1 - o.offset : f.line;
      problems.push(`${o?.source ?? f.filepath}:${line}:${f.column}: ${f.message} [${f.kind}]`);
    }
    const checked = `${workflows.length} workflow file(s) and ${blocks.length} README yaml block(s)`;
    return { problems, checked };
  } finally {
    rmSync(project, { recursive: true, force: true });
  }
}

function main() {
  const bin = findActionlint(process.argv.slice(2));
  if (!bin) {
    console.error(
      'actionlint not found: run .ci/run, or `GOBIN=$PWD/.tools/bin go install github.com/rhysd/actionlint/cmd/actionlint@v1.7.12`, or pass --actionlint <path>',
    );
    return 2;
  }
  const { problems, checked } = lintProject(ROOT, bin);
  if (problems.length > 0) {
    for (const p of problems) console.error(p);
    console.error(`${problems.length} finding(s) in ${checked}`);
    return 1;
  }
  console.log(`actionlint: no findings in ${checked}`);
  return 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = main();
  } catch (e) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exitCode = 2;
  }
}
