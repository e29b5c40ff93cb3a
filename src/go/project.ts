/**
 * Which Go modules this action caches and verifies, decided the way Go
 * decides which modules a build uses, not by a file glob:
 *
 * - the module at working-directory (Go's GOMOD there), or the members of the
 *   go.work workspace Go finds there (Go's GOWORK);
 * - plus, only when the user lists them in go-sum-files, other standalone
 *   modules below working-directory;
 * - never a module below a directory Go ignores (testdata, vendor, names
 *   starting with `.` or `_`), whatever the globs say: those are fixtures.
 *
 * go.mod and go.work are read with Go's own parser (`go mod edit -json`,
 * `go work edit -json`). Problems Go would only report later, less clearly
 * (a missing replacement directory, a missing `use` directory, a go directive
 * newer than the installed Go) come back as diagnostics on the exact line.
 */
import * as glob from '@actions/glob';
import { existsSync, promises as fs, statSync } from 'node:fs';
import * as path from 'node:path';
import { InputError } from '../errors.js';
import { hashDependencyFiles } from './gosum.js';
import { credentialSources, maskUserinfo, URL_VARIABLES } from './credentials.js';
import { classifyGoFailure, type FailureContext, type GoFailure } from './goout.js';
import { parseGoSum } from './gosum.js';
import type { VendorRoot } from './vendor.js';
import type { Go } from './toolchain.js';
import {
  compareGoVersions,
  installedGoVersion,
  isIgnoredByGo,
  isLocalReplacement,
  locateDirective,
  moduleLabel,
  replaceArgs,
  type ModFileJson,
  type ReplaceJson,
  type WorkFileJson,
} from './workspace.js';

export interface Diagnostic {
  level: 'error' | 'warning' | 'notice';
  /** Absolute path of the file to fix (make it relative to GITHUB_WORKSPACE for an annotation). */
  file: string;
  line?: number;
  message: string;
}

export interface ReplaceInfo {
  /** `path` or `path@version` being replaced. */
  from: string;
  /** `path@version` for a module replacement; the directory as written for a local one. */
  to: string;
  kind: 'module' | 'local';
  /** Absolute directory of a local replacement. */
  dir?: string;
  /** The go.mod or go.work holding the directive, and its line. */
  file: string;
  line?: number;
}

export interface Member {
  dir: string;
  modulePath: string;
  goMod: string;
  goSum?: string;
  goVersion?: string;
  toolchain?: string;
  replaces: ReplaceInfo[];
  /** vendor/modules.txt exists: Go builds from vendor/, not from the module cache. */
  vendored: boolean;
  /** `path@version` of every `require` line: what `go mod download` fetches (go >= 1.17). */
  requires: string[];
  /** Why it is in scope: 'working-directory', 'go.work use' or "go-sum-files glob 'x'". */
  why: string;
}

/** One place where `go mod download` and `go mod verify` run. */
export interface Run {
  dir: string;
  /** Extra environment, e.g. GOWORK=off for a standalone module inside a workspace's tree. */
  env?: Record<string, string>;
  /** The go.mod or go.work files that define the modules of this run. */
  files: string[];
  why: string;
}

export interface GoProject {
  workingDirectory: string;
  mode: 'module' | 'workspace';
  goWork?: string;
  members: Member[];
  /** Absolute, sorted: every member's go.sum and the go.work.sum; what verification reads. */
  sumFiles: string[];
  /** Absolute, sorted: sumFiles plus every member's go.mod and the go.work; what the key hashes. */
  keyFiles: string[];
  /** hashDependencyFiles over keyFiles, named relative to workingDirectory. */
  depHash: string;
  /** Where `go mod download` runs: one per workspace, one per standalone module. */
  roots: string[];
  /** The same as roots, with the environment and origin of each. */
  runs: Run[];
  diagnostics: Diagnostic[];
  /** Replace directives of go.work (those of go.mod files are on each member). */
  workReplaces: ReplaceInfo[];
  /** For the summary, one per replace directive in scope. */
  replaced: { from: string; to: string; kind: 'module' | 'local'; note: string }[];
}

export interface ScopeOptions {
  goSumFiles: string[];
  goSumFilesIsDefault: boolean;
}

export function resolveWorkingDirectory(workspace: string, workingDirectory: string): string {
  return path.resolve(workspace, workingDirectory);
}

/** Sha256 over the given files, each named by its path relative to workingDirectory. */
export async function hashProjectFiles(workingDirectory: string, files: string[]): Promise<string> {
  const contents = await Promise.all(
    files.map(async (f) => ({
      path: path.relative(workingDirectory, f).split(path.sep).join('/'),
      content: await fs.readFile(f),
    })),
  );
  return hashDependencyFiles(contents);
}

function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Go prints /dev/null (NUL on Windows) for GOMOD outside any module. */
function realGoMod(gomod: string): string | undefined {
  return gomod === '' || gomod === '/dev/null' || gomod === 'NUL' ? undefined : gomod;
}

async function goEnv(go: Go, dir: string): Promise<Record<string, string>> {
  const r = await go.run(['env', '-json', 'GOMOD', 'GOWORK', 'GOVERSION'], dir);
  if (r.code !== 0) {
    throw new Error(`'go env' failed in ${dir} (exit ${r.code}): ${r.stderr.trim()}`);
  }
  return JSON.parse(r.stdout) as Record<string, string>;
}

/** Line number Go reports in a parse error (`go.mod:6: unknown directive`), if any. */
function lineFromGoError(stderr: string): number | undefined {
  const m = /go\.(?:mod|work):(\d+)(?::\d+)?:/.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** Reads a go.mod with Go's parser; a file Go cannot parse becomes an error diagnostic. */
async function readGoMod(
  go: Go,
  goMod: string,
  diagnostics: Diagnostic[],
): Promise<ModFileJson | undefined> {
  const r = await go.run(['mod', 'edit', '-json', goMod], path.dirname(goMod));
  if (r.code === 0) return JSON.parse(r.stdout) as ModFileJson;
  const line = lineFromGoError(r.stderr);
  diagnostics.push({
    level: 'error',
    file: goMod,
    ...(line ? { line } : {}),
    message: `Go cannot parse ${goMod}: ${r.stderr.trim()}. Fix the file (run 'go mod tidy' locally).`,
  });
  return undefined;
}

async function readGoWork(
  go: Go,
  goWork: string,
  diagnostics: Diagnostic[],
): Promise<WorkFileJson | undefined> {
  const r = await go.run(['work', 'edit', '-json', goWork], path.dirname(goWork));
  if (r.code === 0) return JSON.parse(r.stdout) as WorkFileJson;
  const line = lineFromGoError(r.stderr);
  diagnostics.push({
    level: 'error',
    file: goWork,
    ...(line ? { line } : {}),
    message: `Go cannot parse ${goWork}: ${r.stderr.trim()}. Fix the file.`,
  });
  return undefined;
}

/** The modules Go will need: everything any member requires. */
function requiredPaths(mods: ModFileJson[]): Set<string> {
  const out = new Set<string>();
  for (const m of mods) for (const r of m.Require ?? []) out.add(r.Path);
  return out;
}

interface ReplaceCheck {
  go: Go;
  file: string;
  text: string;
  required: Set<string>;
  sums: Set<string>;
  diagnostics: Diagnostic[];
  /** working-directory: paths in messages are shown relative to it, as in the repository. */
  root: string;
}

/** Module path declared by the go.mod in `dir`, read with Go's parser; undefined if unreadable. */
async function declaredPath(go: Go, dir: string): Promise<string | undefined> {
  const r = await go.run(['mod', 'edit', '-json', path.join(dir, 'go.mod')], dir);
  if (r.code !== 0) return undefined;
  return (JSON.parse(r.stdout) as ModFileJson).Module?.Path;
}

/**
 * Describes one replace directive and checks what Go will need from it: a
 * local directory must exist, hold a go.mod and declare the replaced path; a
 * module replacement is verified against go.sum under its new path, so go.sum
 * should hold that hash.
 */
async function checkReplace(r: ReplaceJson, c: ReplaceCheck): Promise<ReplaceInfo> {
  const line = locateDirective(c.text, 'replace', replaceArgs(r));
  const from = moduleLabel(r.Old);
  const at = { file: c.file, ...(line ? { line } : {}) };
  const needed = c.required.has(r.Old.Path);
  if (!isLocalReplacement(r)) {
    const to = moduleLabel(r.New);
    if (needed && !c.sums.has(`${r.New.Path}@${r.New.Version ?? ''}`)) {
      c.diagnostics.push({
        level: 'warning',
        ...at,
        message:
          `${from} is replaced by ${to}, but no go.sum in scope holds a hash for ${to}: ` +
          "go mod download will fail with 'missing go.sum entry'. Run 'go mod tidy' and commit go.sum.",
      });
    }
    return { from, to, kind: 'module', ...at };
  }
  const dir = path.resolve(path.dirname(c.file), r.New.Path);
  const info: ReplaceInfo = { from, to: r.New.Path, kind: 'local', dir, ...at };
  const level = needed ? 'error' : 'warning';
  const later = needed
    ? ''
    : ' Go does not need it for this build yet, but will once it is required.';
  const directive = `replace ${from} => ${r.New.Path}`;
  const shown = relative(c.root, dir);
  if (!isDir(dir)) {
    c.diagnostics.push({
      level,
      ...at,
      message:
        `${directive}: the directory ${shown} does not exist in the checkout, so Go cannot load the ` +
        'module graph. Check it out before this step (for example a second actions/checkout with ' +
        `'path:'), or remove the replace directive.${later}`,
    });
  } else if (!isFile(path.join(dir, 'go.mod'))) {
    c.diagnostics.push({
      level,
      ...at,
      message:
        `${directive}: ${shown} has no go.mod; a local replacement must be a module root. Point the ` +
        `directive at the folder holding ${r.Old.Path}'s go.mod, or add one there.${later}`,
    });
  } else {
    const declared = await declaredPath(c.go, dir);
    if (declared !== undefined && declared !== r.Old.Path) {
      c.diagnostics.push({
        level,
        ...at,
        message:
          `${directive}: ${relative(c.root, path.join(dir, 'go.mod'))} declares module ${declared}, not ` +
          `${r.Old.Path}; Go fails with 'module declares its path as'. Point the directive at the ` +
          `folder of ${r.Old.Path}, or fix the module line there.${later}`,
      });
    }
  }
  return info;
}

/** The summary line for one replace directive. */
export function replaceNote(r: ReplaceInfo): string {
  if (r.kind === 'local') return `${r.from} replaced by ${r.to} (local, not verified by go.sum)`;
  const newPath = r.to.replace(/@[^@]*$/, '');
  return `${r.from} replaced by ${r.to}, verified as ${newPath}`;
}

function versionDiagnostic(
  file: string,
  text: string,
  needs: string | undefined,
  installed: string | undefined,
): Diagnostic | undefined {
  if (!needs || !installed) return undefined;
  const cmp = compareGoVersions(needs, installed);
  if (cmp === undefined || cmp <= 0) return undefined;
  const line = locateDirective(text, 'go', [needs]);
  const name = path.basename(file);
  return {
    level: 'error',
    file,
    ...(line ? { line } : {}),
    message:
      `${name} needs Go >= ${needs} (its go directive), but the installed Go is ${installed}. ` +
      `Install the right Go before this step: actions/setup-go with 'go-version-file: ${name}' ` +
      '(or go-version >= ' +
      `${needs}), or set GOTOOLCHAIN=auto so Go fetches the toolchain itself.`,
  };
}

interface GlobMatch {
  file: string;
  pattern: string;
}

async function globSumFiles(workingDirectory: string, patterns: string[]): Promise<GlobMatch[]> {
  const out: GlobMatch[] = [];
  const seen = new Set<string>();
  // Each positive pattern is globbed alone (to name it), with every negation applied.
  const negations = patterns.filter((p) => p.startsWith('!'));
  for (const pattern of patterns.filter((p) => !p.startsWith('!'))) {
    const lines = [pattern, ...negations].map((p) =>
      p.startsWith('!')
        ? `!${path.join(workingDirectory, p.slice(1))}`
        : path.join(workingDirectory, p),
    );
    const globber = await glob.create(lines.join('\n'), {
      followSymbolicLinks: false,
      implicitDescendants: false,
      matchDirectories: false,
    });
    for (const file of (await globber.glob()).sort()) {
      if (file.split(path.sep).includes('node_modules') || seen.has(file)) continue;
      seen.add(file);
      out.push({ file, pattern });
    }
  }
  return out;
}

async function readSumSet(files: string[]): Promise<Set<string>> {
  const out = new Set<string>();
  for (const f of files) {
    for (const l of parseGoSum(await fs.readFile(f, 'utf8')).lines) {
      if (!l.goMod) out.add(`${l.path}@${l.version}`);
    }
  }
  return out;
}

function relative(workingDirectory: string, p: string): string {
  return path.relative(workingDirectory, p).split(path.sep).join('/') || '.';
}

/** Where Go starts: the go.work members, or the module at working-directory. */
async function startingMembers(
  go: Go,
  workingDirectory: string,
  env: Record<string, string>,
  goWork: string | undefined,
  diagnostics: Diagnostic[],
): Promise<{ members: { goMod: string; why: string }[]; work?: WorkFileJson; workText?: string }> {
  if (goWork) {
    if (!isFile(goWork)) {
      throw new InputError(
        'working-directory',
        `GOWORK is ${goWork}, which does not exist. Set GOWORK to an existing go.work, or GOWORK=off.`,
      );
    }
    const work = await readGoWork(go, goWork, diagnostics);
    const workText = await fs.readFile(goWork, 'utf8');
    const members: { goMod: string; why: string }[] = [];
    for (const use of work?.Use ?? []) {
      const dir = path.resolve(path.dirname(goWork), use.DiskPath);
      const line = locateDirective(workText, 'use', [use.DiskPath]);
      const at = { file: goWork, ...(line ? { line } : {}) };
      if (!isDir(dir)) {
        diagnostics.push({
          level: 'error',
          ...at,
          message:
            `use ${use.DiskPath}: the directory ${relative(workingDirectory, dir)} does not exist in the checkout. Check it ` +
            'out before this step, or remove it from go.work.',
        });
      } else if (!isFile(path.join(dir, 'go.mod'))) {
        diagnostics.push({
          level: 'error',
          ...at,
          message: `use ${use.DiskPath}: ${relative(workingDirectory, dir)} has no go.mod. Add one, or remove it from go.work.`,
        });
      } else {
        members.push({ goMod: path.join(dir, 'go.mod'), why: 'go.work use' });
      }
    }
    const own = realGoMod(env['GOMOD'] ?? '');
    if (own && !members.some((m) => m.goMod === own) && work) {
      diagnostics.push({
        level: 'error',
        file: goWork,
        message:
          `working-directory is in the module ${path.dirname(own)}, which ${goWork} does not use, ` +
          "so Go builds nothing there. Add it to go.work ('go work use " +
          `${path.relative(path.dirname(goWork), path.dirname(own)) || '.'}'), or set GOWORK=off for this job.`,
      });
    }
    return { members, ...(work ? { work } : {}), workText };
  }
  const goMod = realGoMod(env['GOMOD'] ?? '');
  return { members: goMod ? [{ goMod, why: 'working-directory' }] : [] };
}

/**
 * Reads the Go project at workingDirectory: which modules are in scope and
 * why, the files that key and verify the cache, where Go commands run, and
 * the problems found on the way (as diagnostics; only a project with no
 * module at all throws an InputError).
 */
export async function readProject(
  go: Go,
  workingDirectory: string,
  o: ScopeOptions,
): Promise<GoProject> {
  if (!isDir(workingDirectory)) {
    throw new InputError(
      'working-directory',
      `${workingDirectory} does not exist. Check out the repository before this step, or set ` +
        'working-directory to the folder that holds go.mod or go.work.',
    );
  }
  const diagnostics: Diagnostic[] = [];
  const env = await goEnv(go, workingDirectory);
  const goWorkEnv = env['GOWORK'] ?? '';
  const goWork = goWorkEnv !== '' && goWorkEnv !== 'off' ? goWorkEnv : undefined;
  const start = await startingMembers(go, workingDirectory, env, goWork, diagnostics);

  // Modules the globs add: only when the user chose the globs, never below ignored dirs.
  const inScope = new Set(start.members.map((m) => path.dirname(m.goMod)));
  const added: { goMod: string; why: string }[] = [];
  const ignored: string[] = [];
  const outOfScope: string[] = [];
  for (const { file, pattern } of await globSumFiles(workingDirectory, o.goSumFiles)) {
    const dir = path.dirname(file);
    if (inScope.has(dir) || path.basename(file) === 'go.work.sum') continue;
    if (isIgnoredByGo(path.relative(workingDirectory, dir))) {
      ignored.push(relative(workingDirectory, dir));
    } else if (o.goSumFilesIsDefault) {
      outOfScope.push(relative(workingDirectory, dir));
    } else if (isFile(path.join(dir, 'go.mod'))) {
      inScope.add(dir);
      added.push({ goMod: path.join(dir, 'go.mod'), why: `go-sum-files glob '${pattern}'` });
    } else {
      diagnostics.push({
        level: 'warning',
        file,
        message: `go-sum-files glob '${pattern}' matched ${file}, but ${dir} has no go.mod; ignored.`,
      });
    }
  }
  if (ignored.length > 0 && !o.goSumFilesIsDefault) {
    diagnostics.push({
      level: 'notice',
      file: workingDirectory,
      message:
        `go-sum-files matched modules in directories Go ignores (testdata, vendor, or names ` +
        `starting with '.' or '_'); they are test fixtures or copies and stay out of scope: ` +
        `${ignored.slice(0, 5).join(', ')}${ignored.length > 5 ? ` and ${ignored.length - 5} more` : ''}.`,
    });
  }
  if (outOfScope.length > 0) {
    diagnostics.push({
      level: 'notice',
      file: workingDirectory,
      message:
        `Nested modules outside ${goWork ? 'the go.work workspace' : 'the module at working-directory'} ` +
        `are not cached: ${outOfScope.slice(0, 5).join(', ')}` +
        `${outOfScope.length > 5 ? ` and ${outOfScope.length - 5} more` : ''}. ` +
        'List them in go-sum-files to cache and verify them too.',
    });
  }

  const wanted = [...start.members, ...added];
  if (wanted.length === 0 && diagnostics.every((d) => d.level !== 'error')) {
    throw new InputError(
      o.goSumFilesIsDefault ? 'working-directory' : 'go-sum-files',
      `no Go module in scope: Go finds no go.mod or go.work at ${workingDirectory}` +
        (o.goSumFilesIsDefault
          ? '. Run this step after actions/checkout and set working-directory to the folder of ' +
            'go.mod or go.work, or list the modules to cache in go-sum-files.'
          : ` and go-sum-files (${o.goSumFiles.join(', ')}) matches no go.sum next to a go.mod.`),
    );
  }

  const parsed: { goMod: string; why: string; json: ModFileJson; text: string }[] = [];
  for (const w of wanted) {
    const json = await readGoMod(go, w.goMod, diagnostics);
    if (json) parsed.push({ ...w, json, text: await fs.readFile(w.goMod, 'utf8') });
  }
  const goWorkSum = goWork ? path.join(path.dirname(goWork), 'go.work.sum') : undefined;
  const sumFiles = [
    ...parsed.map((p) => path.join(path.dirname(p.goMod), 'go.sum')),
    ...(goWorkSum ? [goWorkSum] : []),
  ]
    .filter(isFile)
    .sort();
  const sums = await readSumSet(sumFiles);
  const installed = installedGoVersion(env['GOVERSION'] ?? '');

  const members: Member[] = [];
  const workRequired = requiredPaths(
    parsed.filter((p) => p.why === 'go.work use').map((p) => p.json),
  );
  for (const p of parsed) {
    const dir = path.dirname(p.goMod);
    const inWork = p.why === 'go.work use';
    const check: ReplaceCheck = {
      go,
      file: p.goMod,
      text: p.text,
      required: inWork ? workRequired : requiredPaths([p.json]),
      sums,
      diagnostics,
      root: workingDirectory,
    };
    const replaces: ReplaceInfo[] = [];
    for (const r of p.json.Replace ?? []) replaces.push(await checkReplace(r, check));
    const goSum = path.join(dir, 'go.sum');
    const vendored = !inWork && isFile(path.join(dir, 'vendor', 'modules.txt'));
    const tooNew = versionDiagnostic(p.goMod, p.text, p.json.Go, installed);
    if (tooNew) diagnostics.push(tooNew);
    members.push({
      dir,
      modulePath: p.json.Module?.Path ?? '',
      goMod: p.goMod,
      ...(isFile(goSum) ? { goSum } : {}),
      ...(p.json.Go ? { goVersion: p.json.Go } : {}),
      ...(p.json.Toolchain ? { toolchain: p.json.Toolchain } : {}),
      replaces,
      vendored,
      requires: (p.json.Require ?? []).flatMap((r) =>
        r.Version ? [`${r.Path}@${r.Version}`] : [],
      ),
      why: p.why,
    });
  }

  const workReplaces: ReplaceInfo[] = [];
  if (goWork && start.work && start.workText !== undefined) {
    const check: ReplaceCheck = {
      go,
      file: goWork,
      text: start.workText,
      required: workRequired,
      sums,
      diagnostics,
      root: workingDirectory,
    };
    for (const r of start.work.Replace ?? []) workReplaces.push(await checkReplace(r, check));
    const tooNew = versionDiagnostic(goWork, start.workText, start.work.Go, installed);
    if (tooNew) diagnostics.push(tooNew);
  }

  const vendorDirs = [
    ...members.filter((m) => m.vendored).map((m) => m.dir),
    ...(goWork && isFile(path.join(path.dirname(goWork), 'vendor', 'modules.txt'))
      ? [path.dirname(goWork)]
      : []),
  ];
  for (const dir of vendorDirs) {
    diagnostics.push({
      level: 'notice',
      file: path.join(dir, 'vendor', 'modules.txt'),
      message:
        `${relative(workingDirectory, dir)} vendors its dependencies: its build reads vendor/, not ` +
        'the module cache, so this cache does not speed up or protect that build.',
    });
  }

  const runs: Run[] = [];
  if (goWork) {
    runs.push({ dir: path.dirname(goWork), files: [goWork], why: 'working-directory (go.work)' });
  }
  for (const m of members) {
    if (m.why === 'go.work use') continue;
    runs.push({
      dir: m.dir,
      files: [m.goMod],
      why: m.why,
      // A module the globs added is built on its own, even inside a workspace's tree.
      ...(m.why === 'working-directory' ? {} : { env: { GOWORK: 'off' } }),
    });
  }

  const keyFiles = [
    ...new Set([...sumFiles, ...members.map((m) => m.goMod), ...(goWork ? [goWork] : [])]),
  ].sort();
  const allReplaces = [...members.flatMap((m) => m.replaces), ...workReplaces];
  return {
    workingDirectory,
    mode: goWork ? 'workspace' : 'module',
    ...(goWork ? { goWork } : {}),
    members,
    sumFiles,
    keyFiles,
    depHash: await hashProjectFiles(workingDirectory, keyFiles),
    roots: runs.map((r) => r.dir),
    runs,
    diagnostics,
    workReplaces,
    replaced: allReplaces.map((r) => ({
      from: r.from,
      to: r.to,
      kind: r.kind,
      note: replaceNote(r),
    })),
  };
}

/**
 * The properties of a workflow annotation for a diagnostic: GitHub places an
 * annotation on a file by its path relative to the repository root.
 */
export function annotationFor(
  d: Diagnostic,
  githubWorkspace: string,
): { title: string; file: string; startLine?: number } {
  const rel = path.relative(githubWorkspace, d.file).split(path.sep).join('/');
  return {
    title: 'verified-go-cache',
    file: rel.startsWith('..') || path.isAbsolute(rel) ? d.file : rel,
    ...(d.line ? { startLine: d.line } : {}),
  };
}

/** The errors among the diagnostics as one message, or undefined when there are none. */
export function projectErrors(project: GoProject): string | undefined {
  const errors = project.diagnostics.filter((d) => d.level === 'error');
  if (errors.length === 0) return undefined;
  return (
    `The Go project cannot be loaded as it is (${errors.length} problem${errors.length > 1 ? 's' : ''}); ` +
    'fix the files named below. The module cache is left as it is.\n' +
    errors.map((d) => `${d.file}${d.line ? `:${d.line}` : ''}: ${d.message}`).join('\n')
  );
}

/**
 * `file:line` of every local replace directive in scope, keyed by the absolute
 * directory it points at (Go names that directory in its error).
 */
export function replaceSites(project: GoProject): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of [...project.members.flatMap((m) => m.replaces), ...project.workReplaces]) {
    if (r.kind === 'local' && r.dir) out[r.dir] = `${r.file}${r.line ? `:${r.line}` : ''}`;
  }
  return out;
}

/**
 * Explains a failed go command that ran in one of the project's roots:
 * names the directory, the input that put it in scope and the file to fix.
 */
export function explainGoFailure(
  project: GoProject,
  root: string,
  command: string,
  stderr: string,
): GoFailure {
  const run = project.runs.find((r) => r.dir === root);
  return classifyGoFailure(stderr, {
    command,
    dir: root,
    files: run?.files ?? [],
    ...(run ? { why: run.why } : {}),
    replaceSites: replaceSites(project),
    ...privateFetchContext(process.env),
  });
}

/** Each directory Go builds in (a module or a workspace) and whether it vendors. */
export function vendorRoots(project: GoProject): VendorRoot[] {
  return project.runs.map((r) => ({
    dir: r.dir,
    vendored: isFile(path.join(r.dir, 'vendor', 'modules.txt')),
  }));
}

/**
 * What a failure message about private modules may show of the environment:
 * the credential sources by name, and the Go variables that route and check
 * modules with any userinfo masked.
 */
export function privateFetchContext(
  env: Record<string, string | undefined>,
): Pick<FailureContext, 'credentials' | 'goEnv'> {
  const home = env['HOME'] ?? env['USERPROFILE'] ?? '';
  const netrc = env['NETRC'];
  const credentials = credentialSources({
    env,
    netrcFileExists: netrc ? isFile(netrc) : false,
    homeNetrcExists: home !== '' && isFile(path.join(home, '.netrc')),
  });
  const goEnv: Record<string, string> = {};
  for (const name of URL_VARIABLES) {
    const v = env[name];
    if (v) goEnv[name] = maskUserinfo(v);
  }
  return { credentials, goEnv };
}

// ---------------------------------------------------------------------------
// Kept until pre and post switch over to readProject / hashProjectFiles.

export interface DependencyFiles {
  workingDirectory: string;
  /** Absolute paths, sorted. */
  files: string[];
  /** Hash over the files' relative paths and contents (of the empty set when none matched). */
  hash: string;
}

/** @deprecated Globs files without Go's scope rules; use readProject (or hashProjectFiles). */
export async function findDependencyFiles(
  workingDirectory: string,
  patterns: string[],
): Promise<DependencyFiles> {
  if (!existsSync(workingDirectory)) {
    return { workingDirectory, files: [], hash: hashDependencyFiles([]) };
  }
  const abs = patterns.map((p) => path.join(workingDirectory, p));
  const globber = await glob.create(abs.join('\n'), {
    followSymbolicLinks: false,
    implicitDescendants: false,
    matchDirectories: false,
  });
  const files = (await globber.glob())
    .filter((f) => !f.split(path.sep).includes('node_modules'))
    .sort();
  return { workingDirectory, files, hash: await hashProjectFiles(workingDirectory, files) };
}

/** @deprecated Use GoProject.roots / GoProject.runs. */
export function moduleRoots(workingDirectory: string, files: string[], goWork: string): string[] {
  if (goWork !== '' && goWork !== 'off') return [workingDirectory];
  const roots = new Set<string>();
  if (existsSync(path.join(workingDirectory, 'go.mod'))) roots.add(workingDirectory);
  for (const f of files) {
    const dir = path.dirname(f);
    if (path.basename(f) === 'go.sum' && existsSync(path.join(dir, 'go.mod'))) roots.add(dir);
  }
  return [...roots].sort();
}
