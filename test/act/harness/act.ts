/**
 * Runs real workflow files with nektos/act in host mode, the way the issue
 * asks: the action is referenced as a published one
 * (`uses: example/verified-go-cache@v1`) and mapped onto a copy of this
 * checkout's action.yml + dist/ with `--local-repository`, so act runs pre,
 * main and post exactly as it would for a downloaded action.
 *
 * What act does that this file relies on (read in nektos/act v0.2.89):
 * - host mode (`-P ubuntu-latest=-self-hosted`) copies the repository into
 *   `<action-cache-path>/<16 hex>/hostexecutor` and uses that as
 *   GITHUB_WORKSPACE, so the workspace depth is set by `--action-cache-path`;
 * - the job inherits act's own environment (HOME, GOPROXY, PATH...), so a
 *   fresh HOME per run is a fresh runner with an empty module cache;
 * - GITHUB_REF_NAME comes from the branch checked out in the repository act
 *   runs from, GITHUB_RUN_ID from `--env GITHUB_RUN_ID=...` (default 1);
 * - the built-in cache service speaks the v1 REST protocol
 *   (ACTIONS_CACHE_URL), lower-cases keys, and keeps each archive as the file
 *   `<cache-server-path>/cache/<id % 255 as %02x>/<id>` with its metadata in
 *   `<cache-server-path>/bolt.db` (see ./boltdb.ts).
 */
import { execFileSync, spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { REPO_ROOT } from '../../e2e/harness/runner.js';

/** The act version the issue pins; .ci/run installs the same one. */
export const ACT_VERSION = '0.2.89';
/** The actionlint version .ci/run installs. */
export const ACTIONLINT_VERSION = '1.7.12';
/** The remote-looking name workflows use for this action. */
export const ACTION_REF = 'example/verified-go-cache@v1';

/** Where .ci/run (and, failing that, the test itself) puts act. */
export const TOOLS_BIN = path.join(REPO_ROOT, '.tools', 'bin');

/** Why `what` cannot run here (printed, never a silent skip), or undefined when it can. */
export function skipReason(what: string): string | undefined {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${what} skipped: \`go\` is not on PATH (needed to build act and actionlint with go install, and for the test module)`;
  }
}

function versionOf(bin: string, flag: string): string | undefined {
  try {
    return execFileSync(bin, [flag], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } catch {
    return undefined;
  }
}

/**
 * Path of a Go-built tool at a pinned version: `.tools/bin/<name>` when
 * .ci/run built it, else built now with `go install` into `.tools/bin` (a
 * module download from the Go module proxy, nothing else).
 */
function ensureGoTool(name: string, pkg: string, version: string, versionFlag: string): string {
  const bin = path.join(TOOLS_BIN, name);
  if (versionOf(bin, versionFlag)?.includes(version)) return bin;
  mkdirSync(TOOLS_BIN, { recursive: true });
  console.log(`building ${name} v${version} into ${TOOLS_BIN} (go install ${pkg}@v${version})`);
  execFileSync('go', ['install', `${pkg}@v${version}`], {
    stdio: 'inherit',
    env: { ...process.env, GOBIN: TOOLS_BIN, GOFLAGS: '-buildvcs=false' },
  });
  const built = versionOf(bin, versionFlag);
  if (!built?.includes(version)) {
    throw new Error(`go install built ${bin} but it reports '${built}', not ${version}`);
  }
  return bin;
}

/** act at ACT_VERSION (see ensureGoTool). */
export function ensureAct(): string {
  return ensureGoTool('act', 'github.com/nektos/act', ACT_VERSION, '--version');
}

/** actionlint at ACTIONLINT_VERSION (see ensureGoTool). */
export function ensureActionlint(): string {
  return ensureGoTool(
    'actionlint',
    'github.com/rhysd/actionlint/cmd/actionlint',
    ACTIONLINT_VERSION,
    '-version',
  );
}

/**
 * A copy of what a published release of the action contains (action.yml and
 * dist/), so act does not tar node_modules and .git for every step. From the
 * working tree (what `npm run build` left, as the e2e suite uses it), or,
 * with `fromCommit` (env VGC_ACT_ACTION_FROM, e.g. HEAD), from that commit.
 */
export function publishAction(
  to: string,
  fromCommit: string | undefined = process.env['VGC_ACT_ACTION_FROM'] || undefined,
): string {
  mkdirSync(to, { recursive: true });
  if (fromCommit) {
    const tar = execFileSync('git', ['archive', '--format=tar', fromCommit, 'action.yml', 'dist'], {
      cwd: REPO_ROOT,
      maxBuffer: 512 * 1024 * 1024,
    });
    execFileSync('tar', ['-x', '-C', to], { input: tar });
  } else {
    cpSync(path.join(REPO_ROOT, 'action.yml'), path.join(to, 'action.yml'));
    cpSync(path.join(REPO_ROOT, 'dist'), path.join(to, 'dist'), { recursive: true });
  }
  const missing = ['pre', 'main', 'post'].filter(
    (stage) => !existsSync(path.join(to, 'dist', stage, 'index.js')),
  );
  if (missing.length > 0) {
    throw new Error(
      `dist/ ${fromCommit ? `at ${fromCommit}` : 'in the working tree'} lacks ${missing.map((s) => `dist/${s}/index.js`).join(', ')}: run 'npm run build' first`,
    );
  }
  return to;
}

function git(repo: string, args: string[]): string {
  return execFileSync('git', args, {
    cwd: repo,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 'act test',
      GIT_AUTHOR_EMAIL: 'act@example.com',
      GIT_COMMITTER_NAME: 'act test',
      GIT_COMMITTER_EMAIL: 'act@example.com',
    },
  });
}

/**
 * Turns `dir` (a Go project) into a git repository on `branch` with
 * `workflows` (file name -> YAML) under .github/workflows, committed, with a
 * GitHub-looking origin so act derives GITHUB_REPOSITORY from it.
 */
export function makeRepo(dir: string, branch: string, workflows: Record<string, string>): void {
  const wfDir = path.join(dir, '.github', 'workflows');
  mkdirSync(wfDir, { recursive: true });
  for (const [name, text] of Object.entries(workflows)) writeFileSync(path.join(wfDir, name), text);
  if (!existsSync(path.join(dir, '.git'))) {
    git(dir, ['init', '-q', '-b', branch]);
    git(dir, ['remote', 'add', 'origin', 'https://github.com/example/app.git']);
  } else {
    git(dir, ['checkout', '-q', '-B', branch]);
  }
  git(dir, ['add', '-A']);
  git(dir, ['commit', '-q', '--allow-empty', '-m', `workflows on ${branch}`]);
}

/** Switches the repository act runs from to another branch (GITHUB_REF_NAME). */
export function checkoutBranch(dir: string, branch: string): void {
  git(dir, ['checkout', '-q', '-B', branch]);
}

export interface ActRun {
  /** Exit code of act itself: non-zero when a job failed. */
  code: number;
  /** act's log (json lines with --json). */
  log: string;
  /** One entry per step stage act reported: stage Pre/Main/Post, step name, result. */
  steps: StepRecord[];
  /** The action's outputs, as the workflow's recording step wrote them. */
  outputs: Record<string, string>;
  /** GITHUB_WORKSPACE of the job, as the recording step saw it. */
  workspace: string;
  /** Lines the steps printed (workflow commands excluded: see annotations). */
  output: string;
  /** ::warning::, ::error:: and ::notice:: commands, as act parsed them. */
  annotations: Annotation[];
}

export interface Annotation {
  level: string;
  message: string;
  stage: string;
  step: string;
}

export interface StepRecord {
  stage: string;
  step: string;
  result: string;
}

export interface ActOptions {
  act: string;
  /** Repository act runs (its working directory). */
  repo: string;
  /** Workflow file, relative to the repository. */
  workflow: string;
  /** The runner's HOME: a fresh one is a fresh runner (empty module cache). */
  home: string;
  /** Where act puts host workspaces: `<this>/<hex>/hostexecutor`. */
  actionCachePath: string;
  /** act's cache service directory; omit with noCacheServer. */
  cacheServerPath?: string;
  noCacheServer?: boolean;
  /** Directory holding the published action (see publishAction). */
  actionDir: string;
  /** GITHUB_RUN_ID of this run. */
  runId: number;
  /** Extra environment for the job (through act's own environment). */
  env?: Record<string, string>;
  /** File the workflow's recording step writes the outputs to. */
  outputsFile: string;
}

function parseSteps(log: string): StepRecord[] {
  return records(log)
    .filter((rec) => typeof rec['stepResult'] === 'string')
    .map((rec) => ({
      stage: String(rec['stage'] ?? ''),
      step: String(rec['step'] ?? ''),
      result: String(rec['stepResult']),
    }));
}

function parseAnnotations(log: string): Annotation[] {
  const out: Annotation[] = [];
  for (const rec of records(log)) {
    const command = rec['command'];
    if (command === 'warning' || command === 'error' || command === 'notice') {
      out.push({
        level: command,
        message: String(rec['arg'] ?? ''),
        stage: String(rec['stage'] ?? ''),
        step: String(rec['step'] ?? ''),
      });
    }
  }
  return out;
}

/** act's --json log records (other lines, if any, are skipped). */
function records(log: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // not a log record
    }
  }
  return out;
}

function rawOutput(log: string): string {
  return records(log)
    .filter((rec) => rec['raw_output'] === true && typeof rec['msg'] === 'string')
    .map((rec) => String(rec['msg']))
    .join('');
}

/** Runs one workflow with act and collects what the assertions need. */
export async function runAct(o: ActOptions): Promise<ActRun> {
  const args = [
    'push',
    '-W',
    o.workflow,
    '-P',
    'ubuntu-latest=-self-hosted',
    '--json',
    '--action-cache-path',
    o.actionCachePath,
    '--local-repository',
    `${ACTION_REF}=${o.actionDir}`,
    '--env',
    `GITHUB_RUN_ID=${o.runId}`,
    '--artifact-server-addr',
    '127.0.0.1',
  ];
  if (o.noCacheServer) args.push('--no-cache-server');
  else if (o.cacheServerPath)
    args.push('--cache-server-path', o.cacheServerPath, '--cache-server-addr', '127.0.0.1');
  mkdirSync(o.home, { recursive: true });
  mkdirSync(o.actionCachePath, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'] ?? '',
    HOME: o.home,
    LANG: 'C.UTF-8',
    TMPDIR: process.env['TMPDIR'] ?? '/tmp',
    XDG_CACHE_HOME: path.join(o.home, '.cache'),
    VGC_ACT_OUT: o.outputsFile,
    ...o.env,
  };
  const log = await new Promise<{ code: number; text: string }>((resolve, reject) => {
    const child = spawn(o.act, args, { cwd: o.repo, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => chunks.push(b));
    child.stderr.on('data', (b: Buffer) => chunks.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? 1, text: Buffer.concat(chunks).toString('utf8') }),
    );
  });
  // Kept beside the outputs for whoever debugs a failure (VGC_KEEP_ACT=1 keeps the directory).
  writeFileSync(path.join(path.dirname(o.outputsFile), 'act.log'), log.text);
  let outputs: Record<string, string> = {};
  let workspace = '';
  if (existsSync(o.outputsFile)) {
    const rec = JSON.parse(readFileSync(o.outputsFile, 'utf8')) as {
      outputs: Record<string, string>;
      workspace: string;
    };
    outputs = rec.outputs;
    workspace = rec.workspace;
  }
  return {
    code: log.code,
    log: log.text,
    steps: parseSteps(log.text),
    outputs,
    workspace,
    output: rawOutput(log.text),
    annotations: parseAnnotations(log.text),
  };
}
