/**
 * readProject against real directories and the real go command (go mod edit
 * -json, go work edit -json, go env). Hermetic: no network, no module cache use.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  annotationFor,
  explainGoFailure,
  projectErrors,
  readProject,
  type GoProject,
} from '../../src/go/project.js';
import { Go } from '../../src/go/toolchain.js';
import {
  compareGoVersions,
  installedGoVersion,
  isIgnoredByGo,
  locateDirective,
} from '../../src/go/workspace.js';

const DEFAULT = { goSumFiles: ['**/go.sum', '**/go.work.sum'], goSumFilesIsDefault: true };
const SUM_B = 'example.com/b v1.0.0 h1:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb=\n';

let go: Go;
let root: string;
let n = 0;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  for (const k of ['GOWORK', 'GOTOOLCHAIN', 'GOPROXY', 'GOSUMDB', 'GOFLAGS'])
    saved[k] = process.env[k];
  delete process.env['GOWORK'];
  process.env['GOTOOLCHAIN'] = 'local';
  process.env['GOPROXY'] = 'off';
  process.env['GOSUMDB'] = 'off';
  process.env['GOFLAGS'] = '';
  go = await Go.find();
  root = mkdtempSync(path.join(tmpdir(), 'vgc-project-'));
});

afterAll(() => {
  for (const [k, v] of Object.entries(saved)) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(root, { recursive: true, force: true });
});

/** Writes `files` (relative path -> content) under a fresh directory and returns it. */
function tree(files: Record<string, string>): string {
  const dir = path.join(root, `t${++n}`);
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  }
  mkdirSync(dir, { recursive: true });
  return dir;
}

function mod(modulePath: string, extra = ''): string {
  return `module ${modulePath}\n\ngo 1.21\n${extra}`;
}

function rel(p: GoProject, files: string[]): string[] {
  return files.map((f) => path.relative(p.workingDirectory, f).split(path.sep).join('/'));
}

describe('readProject: scope', () => {
  it('a single module: its go.mod and go.sum key the cache, go runs there', async () => {
    const dir = tree({
      'go.mod': mod('example.com/app', '\nrequire example.com/b v1.0.0\n'),
      'go.sum': SUM_B,
    });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.mode).toBe('module');
    expect(p.members.map((m) => [m.modulePath, m.why, m.goVersion])).toEqual([
      ['example.com/app', 'working-directory', '1.21'],
    ]);
    expect(rel(p, p.sumFiles)).toEqual(['go.sum']);
    expect(rel(p, p.keyFiles)).toEqual(['go.mod', 'go.sum']);
    expect(p.roots).toEqual([dir]);
    expect(p.diagnostics).toEqual([]);

    // The key follows go.mod too, not only go.sum.
    writeFileSync(
      path.join(dir, 'go.mod'),
      mod('example.com/app', '\nrequire example.com/b v1.0.1\n'),
    );
    const again = await readProject(go, dir, DEFAULT);
    expect(again.depHash).not.toBe(p.depHash);
  });

  it('working-directory below the module root uses the module Go finds', async () => {
    const dir = tree({ 'go.mod': mod('example.com/app'), 'cmd/tool/main.go': 'package main\n' });
    const p = await readProject(go, path.join(dir, 'cmd', 'tool'), DEFAULT);
    expect(p.members.map((m) => m.dir)).toEqual([dir]);
    expect(p.roots).toEqual([dir]);
  });

  it('a go.work workspace: every member and go.work.sum, one run for the workspace', async () => {
    const dir = tree({
      'go.work': 'go 1.21\n\nuse (\n\t./a\n\t./b\n)\n',
      'go.work.sum': 'example.com/w v1.0.0 h1:wwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwwww=\n',
      'a/go.mod': mod('example.com/a', '\nrequire example.com/b v1.0.0\n'),
      'a/go.sum': SUM_B,
      'b/go.mod': mod('example.com/b'),
      'testdata/fixture/go.mod': mod('example.com/fixture'),
      'testdata/fixture/go.sum': SUM_B,
    });
    const p = await readProject(go, path.join(dir, 'a'), DEFAULT);
    expect(p.mode).toBe('workspace');
    expect(p.goWork).toBe(path.join(dir, 'go.work'));
    expect(p.members.map((m) => [m.modulePath, m.why])).toEqual([
      ['example.com/a', 'go.work use'],
      ['example.com/b', 'go.work use'],
    ]);
    expect(p.sumFiles).toEqual([path.join(dir, 'a', 'go.sum'), path.join(dir, 'go.work.sum')]);
    expect(p.keyFiles).toEqual(
      ['a/go.mod', 'a/go.sum', 'b/go.mod', 'go.work', 'go.work.sum'].map((f) => path.join(dir, f)),
    );
    expect(p.roots).toEqual([dir]);
    expect(p.diagnostics).toEqual([]);
  });

  const nested = {
    'go.mod': mod('example.com/app'),
    'go.sum': SUM_B,
    'tools/go.mod': mod('example.com/tools'),
    'tools/go.sum': SUM_B,
    'cmd/x/testdata/modules/vendored/go.mod': mod('private.example/fake'),
    'cmd/x/testdata/modules/vendored/go.sum': SUM_B,
    'vendor/example.com/v/go.mod': mod('example.com/v'),
    'vendor/example.com/v/go.sum': SUM_B,
    '_old/go.mod': mod('example.com/old'),
    '_old/go.sum': SUM_B,
    '.hidden/go.mod': mod('example.com/hidden'),
    '.hidden/go.sum': SUM_B,
  };

  it('default globs: only the module at working-directory; nested modules get a notice', async () => {
    const dir = tree(nested);
    const p = await readProject(go, dir, DEFAULT);
    expect(p.members.map((m) => m.modulePath)).toEqual(['example.com/app']);
    expect(p.roots).toEqual([dir]);
    expect(rel(p, p.keyFiles)).toEqual(['go.mod', 'go.sum']);
    expect(p.diagnostics).toHaveLength(1);
    expect(p.diagnostics[0]!.level).toBe('notice');
    expect(p.diagnostics[0]!.message).toContain('tools');
    expect(p.diagnostics[0]!.message).not.toContain('testdata');
  });

  it('explicit globs add a nested standalone module, never one Go ignores', async () => {
    const dir = tree(nested);
    const p = await readProject(go, dir, { goSumFiles: ['**/go.sum'], goSumFilesIsDefault: false });
    expect(p.members.map((m) => [m.modulePath, m.why])).toEqual([
      ['example.com/app', 'working-directory'],
      ['example.com/tools', "go-sum-files glob '**/go.sum'"],
    ]);
    expect(p.roots).toEqual([dir, path.join(dir, 'tools')]);
    expect(p.runs[1]!.env).toEqual({ GOWORK: 'off' });
    expect(rel(p, p.sumFiles)).toEqual(['go.sum', 'tools/go.sum']);
    const notice = p.diagnostics.find((d) => d.message.includes('directories Go ignores'));
    expect(notice?.message).toContain('cmd/x/testdata/modules/vendored');
    expect(notice?.message).toContain('_old');
    expect(notice?.message).toContain('.hidden');
    expect(notice?.message).toContain('vendor/example.com/v');
  });

  it('an explicit glob naming a fixture directly still leaves it out', async () => {
    const dir = tree(nested);
    const p = await readProject(go, dir, {
      goSumFiles: ['go.sum', 'cmd/x/testdata/modules/vendored/go.sum'],
      goSumFilesIsDefault: false,
    });
    expect(p.members.map((m) => m.modulePath)).toEqual(['example.com/app']);
  });

  it('no module at all is an input error that says where it looked', async () => {
    const dir = tree({ 'README.md': 'hi\n' });
    await expect(readProject(go, dir, DEFAULT)).rejects.toThrow(/no Go module in scope.*go\.mod/);
    await expect(readProject(go, path.join(dir, 'nope'), DEFAULT)).rejects.toThrow(
      /does not exist/,
    );
  });
});

describe('readProject: replace directives', () => {
  const goMod = [
    'module example.com/app',
    '',
    'go 1.21',
    '',
    'require (',
    '\texample.com/missing v1.0.0',
    '\texample.com/nomod v1.0.0',
    '\texample.com/wrong v1.0.0',
    '\texample.com/good v1.0.0',
    '\texample.com/old v1.0.0',
    ')',
    '',
    'replace example.com/missing v1.0.0 => ../missing // not checked out',
    '',
    'replace (',
    '\texample.com/nomod => ./nomod',
    '\t"example.com/wrong" v1.0.0 => ./wrong',
    '\texample.com/good => ./good',
    '\texample.com/old v1.0.0 => example.com/new v1.2.3',
    ')',
    '',
  ].join('\n');

  it('annotates each bad local replacement on its line and lists every replacement', async () => {
    const dir = tree({
      'app/go.mod': goMod,
      'app/go.sum': 'example.com/new v1.2.3 h1:nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn=\n',
      'app/nomod/x.go': 'package x\n',
      'app/wrong/go.mod': mod('example.com/somethingelse'),
      'app/good/go.mod': mod('example.com/good'),
    });
    const app = path.join(dir, 'app');
    const p = await readProject(go, app, DEFAULT);
    const file = path.join(app, 'go.mod');
    const errors = p.diagnostics.filter((d) => d.level === 'error');
    expect(errors.map((d) => [d.file, d.line])).toEqual([
      [file, 13],
      [file, 16],
      [file, 17],
    ]);
    // Paths as the repository names them (relative to working-directory), not the runner's.
    expect(errors[0]!.message).toMatch(
      /the directory \.\.\/missing does not exist in the checkout.*actions\/checkout/,
    );
    expect(errors[1]!.message).toMatch(/: nomod has no go\.mod/);
    expect(errors[2]!.message).toMatch(
      /wrong\/go\.mod declares module example\.com\/somethingelse, not example\.com\/wrong/,
    );
    for (const e of errors) expect(e.message).not.toContain(dir);
    expect(p.diagnostics.filter((d) => d.level !== 'error')).toEqual([]);
    expect(p.replaced.map((r) => [r.kind, r.note])).toEqual([
      [
        'local',
        'example.com/missing@v1.0.0 replaced by ../missing (local, not verified by go.sum)',
      ],
      ['local', 'example.com/nomod replaced by ./nomod (local, not verified by go.sum)'],
      ['local', 'example.com/wrong@v1.0.0 replaced by ./wrong (local, not verified by go.sum)'],
      ['local', 'example.com/good replaced by ./good (local, not verified by go.sum)'],
      [
        'module',
        'example.com/old@v1.0.0 replaced by example.com/new@v1.2.3, verified as example.com/new',
      ],
    ]);
    expect(p.members[0]!.replaces[4]).toMatchObject({ file, line: 19, kind: 'module' });
  });

  it('warns when go.sum lacks the hash of a module replacement', async () => {
    const dir = tree({
      'go.mod': mod(
        'example.com/app',
        '\nrequire example.com/old v1.0.0\n\nreplace example.com/old => example.com/new v1.2.3\n',
      ),
      'go.sum': SUM_B,
    });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.diagnostics).toHaveLength(1);
    expect(p.diagnostics[0]).toMatchObject({ level: 'warning', line: 7 });
    expect(p.diagnostics[0]!.message).toContain('missing go.sum entry');
  });

  it('a missing replacement of a module nothing requires is only a warning', async () => {
    const dir = tree({
      'go.mod': mod('example.com/app', '\nreplace example.com/unused => ../gone\n'),
    });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.diagnostics.map((d) => [d.level, d.line])).toEqual([['warning', 5]]);
  });
});

describe('readProject: workspaces, vendoring, Go version', () => {
  it('annotates a use directory missing from the checkout on its go.work line', async () => {
    const dir = tree({
      'go.work': 'go 1.21\n\nuse ./a\n\nuse (\n\t./b // second\n\t./gone\n)\n\nuse ./nomod\n',
      'a/go.mod': mod('example.com/a'),
      'b/go.mod': mod('example.com/b'),
      'nomod/README': 'x\n',
    });
    const p = await readProject(go, dir, DEFAULT);
    const goWork = path.join(dir, 'go.work');
    expect(p.diagnostics.map((d) => [d.level, d.file, d.line])).toEqual([
      ['error', goWork, 7],
      ['error', goWork, 10],
    ]);
    expect(p.diagnostics[0]!.message).toContain('use ./gone: the directory gone does not exist');
    expect(p.diagnostics[1]!.message).toContain('use ./nomod: nomod has no go.mod');
    expect(p.members.map((m) => m.modulePath)).toEqual(['example.com/a', 'example.com/b']);
  });

  it("go mod verify's module-graph failure comes back as a project problem naming the go.mod line", async () => {
    const dir = tree({
      'go.work': 'go 1.21\n\nuse ./m1\n',
      'm1/go.mod': mod(
        'example.com/m1',
        '\nrequire example.com/dep v1.0.0\n\nreplace example.com/dep => ../libs/dep\n',
      ),
    });
    const p = await readProject(go, path.join(dir, 'm1'), DEFAULT);
    expect(p.roots).toEqual([dir]);
    const r = await go.run(['mod', 'verify'], p.roots[0]!);
    expect(r.code).not.toBe(0);
    const f = explainGoFailure(p, p.roots[0]!, 'go mod verify', r.stderr);
    expect(f.kind).toBe('project');
    expect(f.message).toContain(`${path.join(dir, 'm1', 'go.mod')}:7`);
    expect(f.message).toContain('working-directory (go.work)');
  });

  it('a working-directory module that go.work does not use is an error on go.work', async () => {
    const dir = tree({
      'go.work': 'go 1.21\n\nuse ./a\n',
      'a/go.mod': mod('example.com/a'),
      'b/go.mod': mod('example.com/b'),
    });
    const p = await readProject(go, path.join(dir, 'b'), DEFAULT);
    expect(p.diagnostics.map((d) => [d.level, d.file])).toEqual([
      ['error', path.join(dir, 'go.work')],
    ]);
    expect(p.diagnostics[0]!.message).toContain('go work use b');
  });

  it('a local replacement in go.work is checked against the go.work line', async () => {
    const dir = tree({
      'go.work': 'go 1.21\n\nuse ./a\n\nreplace example.com/dep v1.0.0 => ./dep\n',
      'a/go.mod': mod('example.com/a', '\nrequire example.com/dep v1.0.0\n'),
    });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.diagnostics.map((d) => [d.level, d.file, d.line])).toEqual([
      ['error', path.join(dir, 'go.work'), 5],
    ]);
  });

  it('a vendoring module gets one notice saying the cache is not what its build reads', async () => {
    const dir = tree({
      'go.mod': mod('example.com/app'),
      'vendor/modules.txt': '# example.com/b v1.0.0\n',
    });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.members[0]!.vendored).toBe(true);
    expect(p.diagnostics).toHaveLength(1);
    expect(p.diagnostics[0]).toMatchObject({
      level: 'notice',
      file: path.join(dir, 'vendor', 'modules.txt'),
    });
    expect(p.diagnostics[0]!.message).toMatch(/reads vendor\/, not the module cache/);
  });

  it('a go directive newer than the installed Go names both versions and the fix', async () => {
    const dir = tree({ 'go.mod': 'module example.com/app\n\n// needs the future\ngo 1.99.1\n' });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.diagnostics).toHaveLength(1);
    const d = p.diagnostics[0]!;
    expect(d).toMatchObject({ level: 'error', file: path.join(dir, 'go.mod'), line: 4 });
    const r = await go.run(['env', 'GOVERSION'], dir);
    const installed = installedGoVersion(r.stdout)!;
    expect(d.message).toContain(`needs Go >= 1.99.1`);
    expect(d.message).toContain(`installed Go is ${installed}`);
    expect(d.message).toContain('go-version-file: go.mod');
    expect(d.message).toContain('GOTOOLCHAIN=auto');
  });
});

describe('diagnostics for the user', () => {
  it('a go.mod Go cannot parse is an error on the line Go names', async () => {
    const dir = tree({ 'go.mod': 'module example.com/app\n\ngo 1.21\n\nbogus directive\n' });
    const p = await readProject(go, dir, DEFAULT);
    expect(p.diagnostics.map((d) => [d.level, d.file, d.line])).toEqual([
      ['error', path.join(dir, 'go.mod'), 5],
    ]);
    expect(projectErrors(p)).toContain(`${path.join(dir, 'go.mod')}:5: Go cannot parse`);
    expect(annotationFor(p.diagnostics[0]!, dir)).toEqual({
      title: 'verified-go-cache',
      file: 'go.mod',
      startLine: 5,
    });
  });

  it('a clean project has no errors to report', async () => {
    const dir = tree({ 'go.mod': mod('example.com/app') });
    expect(projectErrors(await readProject(go, dir, DEFAULT))).toBeUndefined();
  });
});

describe('locateDirective', () => {
  const text = [
    'module x',
    'go 1.22',
    'replace a v1.0.0 => b v1.2.3',
    'replace (',
    '  // a comment => ../c',
    '  c => ../c // trailing',
    '  "d" v2.0.0=>../d',
    ')',
    'use ./e',
    'use (',
    '\t./f',
    ')',
  ].join('\n');

  it('finds single-line and block forms, quoted and unspaced', () => {
    expect(locateDirective(text, 'replace', ['a', 'v1.0.0', '=>', 'b', 'v1.2.3'])).toBe(3);
    expect(locateDirective(text, 'replace', ['c', undefined, '=>', '../c', undefined])).toBe(6);
    expect(locateDirective(text, 'replace', ['d', 'v2.0.0', '=>', '../d'])).toBe(7);
    expect(locateDirective(text, 'use', ['./e'])).toBe(9);
    expect(locateDirective(text, 'use', ['./f'])).toBe(11);
    expect(locateDirective(text, 'go', ['1.22'])).toBe(2);
  });

  it('does not match a different version or a line outside the directive', () => {
    expect(locateDirective(text, 'replace', ['a', 'v1.0.1', '=>', 'b'])).toBeUndefined();
    expect(locateDirective(text, 'use', ['../c'])).toBeUndefined();
  });
});

describe('Go version order and ignored directories', () => {
  it('orders versions as Go does', () => {
    const ordered = ['1.20', '1.21', '1.21rc1', '1.21rc2', '1.21.0', '1.21.10', '1.22', '2.0'];
    for (let i = 1; i < ordered.length; i++) {
      expect(compareGoVersions(ordered[i - 1]!, ordered[i]!)).toBeLessThan(0);
    }
    expect(compareGoVersions('go1.22.0', '1.22.0')).toBe(0);
    expect(compareGoVersions('devel', '1.22')).toBeUndefined();
    expect(installedGoVersion('go1.26.8 X:foo')).toBe('1.26.8');
    expect(installedGoVersion('devel go1.27-abcdef')).toBeUndefined();
  });

  it('recognises the directories Go skips', () => {
    expect(isIgnoredByGo('cmd/x/testdata/m')).toBe(true);
    expect(isIgnoredByGo('vendor/example.com/m')).toBe(true);
    expect(isIgnoredByGo('_tools')).toBe(true);
    expect(isIgnoredByGo('.github/m')).toBe(true);
    expect(isIgnoredByGo('tools/gen')).toBe(false);
    expect(isIgnoredByGo('.')).toBe(false);
  });
});
