/**
 * The git-modules harness itself: the real go command, in direct mode with the
 * real git binary, fetches a private module from a local bare repository, and
 * a re-published tag gives other content (so other tests can rely on both).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createGitModules } from './harness/git-modules.js';

const root = mkdtempSync(path.join(os.tmpdir(), 'vgc-gitmod-'));
afterAll(() => {
  execFileSync('chmod', ['-R', 'u+w', root]);
  rmSync(root, { recursive: true, force: true });
});

const LIB = 'git.internal.test/team/lib.git';
const SUB = 'git.internal.test/team/mono.git/tools';

function goEnv(home: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '',
    HOME: home,
    GOMODCACHE: path.join(home, 'mod'),
    GOCACHE: path.join(home, 'build'),
    GOPROXY: 'off',
    GOSUMDB: 'off',
    GOTOOLCHAIN: 'local',
    GOFLAGS: '',
    ...extra,
  };
}

function download(home: string, env: Record<string, string>, id: string) {
  const out = execFileSync('go', ['mod', 'download', '-json', id], {
    cwd: root,
    env: goEnv(home, env),
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(out) as { Path: string; Version: string; Sum: string; Dir: string };
}

describe('git-modules harness', () => {
  const git = createGitModules(root, [
    {
      path: LIB,
      versions: [
        { version: 'v1.0.0', files: { 'lib.go': 'package lib\n\nfunc F() int { return 1 }\n' } },
        { version: 'v1.1.0', files: { 'lib.go': 'package lib\n\nfunc F() int { return 2 }\n' } },
      ],
    },
    { path: SUB, versions: [{ version: 'v0.3.0', files: { 't.go': 'package tools\n' } }] },
  ]);

  it('go mod download fetches each tag directly from the bare repository, GOPROXY=off', () => {
    const home = path.join(root, 'home-a');
    const v1 = download(home, git.env, `${LIB}@v1.0.0`);
    expect(v1.Sum).toMatch(/^h1:/);
    expect(readFileSync(path.join(v1.Dir, 'lib.go'), 'utf8')).toContain('return 1');
    const v11 = download(home, git.env, `${LIB}@v1.1.0`);
    expect(readFileSync(path.join(v11.Dir, 'lib.go'), 'utf8')).toContain('return 2');
    // A module in a subdirectory of a repository, tagged tools/v0.3.0.
    const sub = download(home, git.env, `${SUB}@v0.3.0`);
    expect(existsSync(path.join(sub.Dir, 't.go'))).toBe(true);
    // Direct mode leaves a git clone in the module cache (what issue 22's test plants).
    expect(existsSync(path.join(home, 'mod', 'cache', 'vcs'))).toBe(true);
  });

  it('without the harness environment the same download fails (the test can fail)', () => {
    const home = path.join(root, 'home-b');
    expect(() => download(home, { GIT_TERMINAL_PROMPT: '0' }, `${LIB}@v1.0.0`)).toThrow();
  });

  it('republish moves the tag: a fresh download of the same version has another hash', () => {
    const before = download(path.join(root, 'home-c'), git.env, `${LIB}@v1.0.0`).Sum;
    git.republish(LIB, 'v1.0.0', { 'lib.go': 'package lib\n\nfunc F() int { return 99 }\n' });
    const after = download(path.join(root, 'home-d'), git.env, `${LIB}@v1.0.0`);
    expect(after.Sum).not.toBe(before);
    expect(readFileSync(path.join(after.Dir, 'lib.go'), 'utf8')).toContain('return 99');
  });
});
