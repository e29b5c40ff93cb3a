/**
 * scripts/lint-workflows.mjs (issue 9, point 2): README yaml blocks and the
 * workflows are linted with actionlint, and a bad example fails with its
 * README line.
 */
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../e2e/harness/runner.js';
import { ensureActionlint, skipReason } from './harness/act.js';

interface Wrapped {
  workflow?: string;
  offset?: number;
  shape?: string;
  error?: string;
}
interface LintModule {
  yamlBlocks(markdown: string): { line: number; text: string }[];
  wrapBlock(text: string): Wrapped;
  useLocalAction(workflow: string): string;
  lintProject(root: string, bin: string): { problems: string[]; checked: string };
}

// A variable specifier: the script is plain JavaScript, typed here by LintModule.
const script = path.join(REPO_ROOT, 'scripts', 'lint-workflows.mjs');
const lint = (await import(script)) as LintModule;

describe('README yaml blocks', () => {
  it('finds yaml blocks with the README line of their first content line, and skips other fences', () => {
    const md = [
      '# x',
      '```sh',
      'npm test',
      '```',
      '```yaml',
      'steps:',
      '  - run: a',
      '```',
      '',
    ].join('\n');
    expect(lint.yamlBlocks(md)).toEqual([{ line: 6, text: 'steps:\n  - run: a\n' }]);
  });

  it('wraps a step list, a job body and a single step into a workflow; leaves workflows alone', () => {
    const steps = lint.wrapBlock('- run: go test ./...\n');
    expect(steps.shape).toBe('steps');
    expect(steps.workflow).toContain('    steps:\n      - run: go test ./...');
    const job = lint.wrapBlock('steps:\n  - run: x\n');
    expect(job.shape).toBe('job');
    expect(job.workflow).toContain('    runs-on: ubuntu-latest\n    steps:\n      - run: x');
    const step = lint.wrapBlock('uses: a/b@v1\nwith:\n  k: v\n');
    expect(step.shape).toBe('step');
    expect(step.workflow).toContain('      - uses: a/b@v1\n        with:\n          k: v');
    const wf = 'on: push\njobs: {}\n';
    expect(lint.wrapBlock(wf)).toEqual({ workflow: wf, offset: 0, shape: 'workflow' });
  });

  it('reports a block that is not YAML (a plain scalar holding ": ") and one of no known shape', () => {
    expect(lint.wrapBlock('- run: echo "a: b" x: y\n  z\n').error).toMatch(/not valid YAML/);
    expect(lint.wrapBlock('foo: bar\n').error).toMatch(/neither a workflow/);
  });

  it('points this action at the local action.yml so its inputs are checked', () => {
    expect(lint.useLocalAction('  - uses: verified-go-cache/verified-go-cache@v1\n')).toBe(
      '  - uses: ./\n',
    );
    expect(lint.useLocalAction('  - uses: actions/cache@v4\n')).toBe(
      '  - uses: actions/cache@v4\n',
    );
  });
});

const reason = skipReason('actionlint tests');
if (reason) console.log(reason);

describe.skipIf(reason !== undefined)('actionlint on a project', () => {
  let bin = '';
  let dir = '';
  beforeAll(() => {
    bin = ensureActionlint();
    dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-lint-test-'));
  }, 600_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function project(readme: string): string {
    const root = mkdtempSync(path.join(dir, 'p-'));
    cpSync(path.join(REPO_ROOT, 'action.yml'), path.join(root, 'action.yml'));
    mkdirSync(path.join(root, '.github', 'workflows'), { recursive: true });
    writeFileSync(path.join(root, 'README.md'), readme);
    return root;
  }

  it('this repository: every workflow and README example lints', () => {
    const r = lint.lintProject(REPO_ROOT, bin);
    expect(r.problems).toEqual([]);
    expect(r.checked).toMatch(/[1-9]\d* workflow file\(s\) and [1-9]\d* README yaml block\(s\)/);
  });

  it('an example with an input the action does not have fails, naming its README line', () => {
    const readme = [
      '# Example',
      '',
      '```yaml',
      'steps:',
      '  - uses: actions/checkout@v5',
      '  - uses: verified-go-cache/verified-go-cache@v1',
      '    with:',
      '      enviroment: prod',
      '```',
      '',
    ].join('\n');
    const r = lint.lintProject(project(readme), bin);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems.join('\n')).toMatch(/^README\.md:8:\d+: .*enviroment/m);
  });

  it('an example reading an output the action does not have fails', () => {
    const readme = [
      '```yaml',
      '- uses: verified-go-cache/verified-go-cache@v1',
      '  id: gocache',
      "- if: steps.gocache.outputs.cache_hit == 'true'",
      '  run: echo hit',
      '```',
    ].join('\n');
    const r = lint.lintProject(project(readme), bin);
    expect(r.problems.join('\n')).toMatch(/^README\.md:4:\d+: .*cache_hit/m);
  });

  it('a whole workflow without `on:` fails; with it, passes', () => {
    const body = [
      'jobs:',
      '  b:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: go test ./...',
    ];
    const bad = lint.lintProject(project(['```yaml', ...body, '```'].join('\n')), bin);
    expect(bad.problems.join('\n')).toMatch(/^README\.md:2:\d+: "on" section is missing/m);
    const good = lint.lintProject(project(['```yaml', 'on: push', ...body, '```'].join('\n')), bin);
    expect(good.problems).toEqual([]);
  });
});
