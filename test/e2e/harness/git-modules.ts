/**
 * Private Go modules served straight from local git repositories, fetched by
 * the real go command in direct mode with the real git binary. No server, no
 * network.
 *
 * Use:
 *
 *   const git = createGitModules(root, [
 *     { path: 'git.internal.test/team/lib.git',
 *       versions: [{ version: 'v1.0.0', files: { 'lib.go': 'package lib\n...' } }] },
 *   ]);
 *   // Merge git.env into the environment of any go process (a job's env, say):
 *   execFileSync('go', ['mod', 'download', 'git.internal.test/team/lib.git@v1.0.0'],
 *                { env: { ...process.env, ...git.env } });
 *   git.republish('git.internal.test/team/lib.git', 'v1.0.0', { 'lib.go': '...' }); // moves the tag
 *
 * `createGitModules(root, modules)` makes one bare repository per module under
 * `root/repos/<host>/<path>` (a linear history, one commit per version, each
 * tagged with its version; go.mod is written for you unless a version's files
 * give one) and a git config file `root/gitconfig`. It returns:
 *
 * - `env`: what a go process needs to fetch these modules directly:
 *   GOPRIVATE / GONOPROXY / GONOSUMDB naming their hosts (so they bypass
 *   whatever GOPROXY says, `off` included, and no checksum database is asked),
 *   GIT_CONFIG_GLOBAL pointing at the config file, GIT_CONFIG_NOSYSTEM=1 and
 *   GIT_TERMINAL_PROMPT=0. GOPROXY is left to the caller (public modules keep
 *   their file:// proxy).
 * - `reposDir`, `gitConfig`, `repoOf(path)`: where things are.
 * - `republish(path, version, files)`: commits other content and force-moves
 *   the tag, as a careless maintainer re-publishing a version would.
 *
 * How cmd/go finds these repositories. A module path such as
 * `git.internal.test/team/lib` (no VCS qualifier) makes go ask
 * `https://git.internal.test/team/lib?go-get=1` for a go-import meta tag
 * before any git runs: that needs DNS and an HTTPS server for the host, which a
 * hermetic test does not have. A path whose repository part ends in `.git`
 * (`git.internal.test/team/lib.git`, as private GitLab users often write) is
 * matched by cmd/go's static VCS pattern instead: go runs
 * `git ls-remote https://git.internal.test/team/lib.git` (https: the first
 * secure scheme; no GOINSECURE needed) and then fetches from that URL. The
 * config's `url."file:///.../repos/<host>/".insteadOf = https://<host>/` rule
 * turns those into local file:// remotes, and `protocol.file.allow=always`
 * keeps newer git from refusing them. So module paths here must end in `.git`
 * (a path below it, `host/x/repo.git/sub`, is a module in subdirectory `sub`
 * of that repository and works too). GOVCS's default (`private:all`) allows
 * git for private paths.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface GitModuleVersion {
  /** A semantic version tag, `v1.0.0`. */
  version: string;
  /** Files of the module root (relative paths); `go.mod` is added when absent. */
  files: Record<string, string>;
}

export interface GitModule {
  /** Module path; its repository part must end in `.git` (see the opening comment). */
  path: string;
  /** Versions in the order they are committed. */
  versions: GitModuleVersion[];
}

export interface GitModules {
  /** Root of the bare repositories: `<reposDir>/<host>/<path-to-repo>.git`. */
  readonly reposDir: string;
  /** The git config file GIT_CONFIG_GLOBAL names. */
  readonly gitConfig: string;
  /** Environment for a go process that must fetch the modules directly. */
  readonly env: Record<string, string>;
  /** The bare repository of a module path. */
  repoOf(modulePath: string): string;
  /** Commits `files` as a new commit and moves tag `version` onto it (a re-published version). */
  republish(modulePath: string, version: string, files: Record<string, string>): void;
}

/** `host/team/lib.git/sub` -> repository `host/team/lib.git`, subdirectory `sub`. */
function splitRepo(modulePath: string): { repo: string; sub: string } {
  const m = /^(.+?\.git)(?:\/(.+))?$/.exec(modulePath);
  if (!m?.[1])
    throw new Error(
      `git-modules: ${modulePath} has no '.git' repository part (see git-modules.ts)`,
    );
  return { repo: m[1], sub: m[2] ?? '' };
}

/** Runs git with no user or system configuration and a fixed identity and clock. */
function git(args: string[], cwd: string): string {
  return execFileSync(
    'git',
    ['-c', 'user.name=test', '-c', 'user.email=test@example.invalid', ...args],
    {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: cwd,
        GIT_CONFIG_NOSYSTEM: '1',
        GIT_CONFIG_GLOBAL: '/dev/null',
        GIT_AUTHOR_DATE: '2024-01-01T00:00:00Z',
        GIT_COMMITTER_DATE: '2024-01-01T00:00:00Z',
      },
    },
  );
}

function writeTree(dir: string, sub: string, modulePath: string, files: Record<string, string>) {
  const base = path.join(dir, sub);
  const all = { 'go.mod': `module ${modulePath}\n\ngo 1.21\n`, ...files };
  for (const [name, body] of Object.entries(all)) {
    mkdirSync(path.dirname(path.join(base, name)), { recursive: true });
    writeFileSync(path.join(base, name), body);
  }
}

/** Replaces a module's files in its work tree with one version's and commits them, tagged. */
function commitVersion(work: string, sub: string, modulePath: string, v: GitModuleVersion) {
  git(['rm', '-rq', '--ignore-unmatch', sub || '.'], work);
  writeTree(work, sub, modulePath, v.files);
  git(['add', '-A'], work);
  git(['commit', '-q', '--allow-empty', '-m', `${modulePath} ${v.version}`], work);
  const tag = sub ? `${sub}/${v.version}` : v.version;
  git(['tag', '-f', tag], work);
}

export function createGitModules(root: string, modules: GitModule[]): GitModules {
  const reposDir = path.join(root, 'repos');
  const scratch = path.join(root, 'git-work');
  mkdirSync(reposDir, { recursive: true });
  mkdirSync(scratch, { recursive: true });
  const repoOf = (modulePath: string): string =>
    path.join(reposDir, ...splitRepo(modulePath).repo.split('/'));

  const works = new Map<string, string>();
  const workOf = (modulePath: string): string => {
    const { repo } = splitRepo(modulePath);
    let work = works.get(repo);
    if (!work) {
      work = mkdtempSync(path.join(scratch, 'w-'));
      git(['init', '-q', '-b', 'main'], work);
      works.set(repo, work);
    }
    return work;
  };
  /** Mirrors a work tree into its bare repository (all branches and tags, forced). */
  const push = (modulePath: string): void => {
    const bare = repoOf(modulePath);
    rmSync(bare, { recursive: true, force: true });
    mkdirSync(path.dirname(bare), { recursive: true });
    git(['clone', '-q', '--bare', workOf(modulePath), bare], scratch);
  };

  const hosts = new Set<string>();
  for (const m of modules) {
    hosts.add(m.path.split('/')[0] ?? m.path);
    const { sub } = splitRepo(m.path);
    for (const v of m.versions) commitVersion(workOf(m.path), sub, m.path, v);
    push(m.path);
  }

  const gitConfig = path.join(root, 'gitconfig');
  const rules = [...hosts]
    .sort()
    .map(
      (h) =>
        `[url "${pathToFileURL(path.join(reposDir, h)).href}/"]\n\tinsteadOf = https://${h}/\n`,
    );
  writeFileSync(gitConfig, `${rules.join('')}[protocol "file"]\n\tallow = always\n`);

  const patterns = [...hosts].sort().join(',');
  return {
    reposDir,
    gitConfig,
    env: {
      GOPRIVATE: patterns,
      GONOPROXY: patterns,
      GONOSUMDB: patterns,
      GIT_CONFIG_GLOBAL: gitConfig,
      GIT_CONFIG_NOSYSTEM: '1',
      GIT_TERMINAL_PROMPT: '0',
    },
    repoOf,
    republish(modulePath, version, files) {
      commitVersion(workOf(modulePath), splitRepo(modulePath).sub, modulePath, {
        version,
        files,
      });
      push(modulePath);
    },
  };
}
