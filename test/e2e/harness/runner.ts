/**
 * Runs the bundled stages the way the GitHub Actions runner does: each stage a
 * separate `node dist/<stage>/index.js` process with GITHUB_WORKSPACE as its
 * working directory, INPUT_* from the step's `with:` plus action.yml defaults,
 * fresh GITHUB_OUTPUT/GITHUB_STATE/GITHUB_ENV/GITHUB_STEP_SUMMARY files per
 * stage, and the state of earlier stages handed on as STATE_*.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

interface ActionYml {
  inputs: Record<string, { default?: string }>;
}

export function actionDefaults(): Record<string, string> {
  const yml = parseYaml(readFileSync(path.join(REPO_ROOT, 'action.yml'), 'utf8')) as ActionYml;
  const out: Record<string, string> = {};
  for (const [name, spec] of Object.entries(yml.inputs)) out[name] = spec.default ?? '';
  return out;
}

/** Parses the runner's file-command format (GITHUB_OUTPUT, GITHUB_STATE, GITHUB_ENV). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === '') continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name, delim] = heredoc as unknown as [string, string, string];
      const value: string[] = [];
      i++;
      while (i < lines.length && lines[i] !== delim) value.push(lines[i++]!);
      if (i >= lines.length) throw new Error(`unterminated value for ${name}`);
      out[name] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`bad file command line: ${line}`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  /** The `file` and `line` properties: where GitHub shows the annotation. */
  file?: string;
  line?: number;
}

export interface StageResult {
  stage: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  summary: string;
  annotations: Annotation[];
  ms: number;
}

export function parseAnnotations(stdout: string): Annotation[] {
  const out: Annotation[] = [];
  for (const l of stdout.split(/\r?\n/)) {
    const m = /^::(error|warning|notice)(?: ([^:]*))?::(.*)$/.exec(l);
    if (!m) continue;
    const props = Object.fromEntries(
      (m[2] ?? '')
        .split(',')
        .filter((p) => p.includes('='))
        .map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
    );
    out.push({
      level: m[1] as Annotation['level'],
      message: m[3]!.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%'),
      ...(props['file'] ? { file: props['file'] } : {}),
      ...(props['line'] ? { line: Number(props['line']) } : {}),
    });
  }
  return out;
}

export interface JobOptions {
  /** Where this job's stage files live (created). */
  jobDir: string;
  workspace: string;
  /** Step `with:` values; action.yml defaults fill the rest. */
  inputs?: Record<string, string>;
  /** Environment of every stage (PATH, HOME, GOPROXY...). */
  env: Record<string, string | undefined>;
  branch?: string;
  /** Set for a pull_request job: the head branch. */
  headRef?: string;
  runId?: string;
  runAttempt?: string;
  /** Skip pre, as the runner does for a local action (uses: ./). */
  skipPre?: boolean;
  /**
   * The steps between pre and main: actions/checkout and actions/setup-go.
   * pre runs before them, so the workspace is empty and Go is not on PATH in pre.
   */
  checkout?: () => Promise<void> | void;
  /** A directory whose PATH entry pre must not see (Go's bin: setup-go has not run yet). */
  goBinDir?: string;
  /**
   * Shell commands run as user steps after checkout and before main (a step a
   * workflow puts between the two). When one fails, main is skipped as the
   * runner skips later steps; post still runs (post-if: always()).
   */
  stepsBeforeMain?: string[];
  /** Shell commands run as user steps after main (and before post). */
  stepsAfterMain?: string[];
  /** Told of each stage's process as it starts (a test that kills post mid-save, say). */
  onStageStart?: (stage: 'pre' | 'main' | 'post', child: ChildProcess) => void;
  /** Per-stage extra environment (for example GOPROXY=off for main only). */
  stageEnv?: Partial<Record<'pre' | 'main' | 'post', Record<string, string>>>;
}

export interface JobResult {
  pre?: StageResult;
  main: StageResult;
  steps: { command: string; exitCode: number; output: string }[];
  /** The steps between pre and main. */
  stepsBefore: { command: string; exitCode: number; output: string }[];
  post: StageResult;
  /** main's outputs: what `steps.<id>.outputs` gives a workflow. */
  outputs: Record<string, string>;
  /** All annotations of the job, in order. */
  annotations: Annotation[];
  /** The job's summary (all stages). */
  summary: string;
  /** true when every stage and step exited 0. */
  succeeded: boolean;
  log: string;
}

function runProcess(
  cmd: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
  onSpawn?: (child: ChildProcess) => void,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** GNU time, which VGC_STAGE_TIME_DIR wraps each stage in. */
export const GNU_TIME = '/usr/bin/time';

/**
 * The command that runs one stage's script, from harness variables read in the
 * stage's environment (a job's `env` or `stageEnv`), else in this process's;
 * they are removed from the environment the stage sees:
 *  - VGC_STAGE_NODE: the node binary (the action's runtime is node24);
 *  - VGC_STAGE_NODE_ARGS: extra node flags, split at white space, `{stage}`
 *    replaced by the stage's name (`--cpu-prof --cpu-prof-dir=/x/{stage}`);
 *  - VGC_STAGE_TIME_DIR: run node under `/usr/bin/time -f %M -o <dir>/<stage>.rss`
 *    (the peak resident set in KiB, worker threads included, as the last line
 *    of that file). GNU time writes only to that file and exits with the
 *    stage's own status, so stdout and the exit code are the stage's. A
 *    stage's child process is then time, not node: do not combine it with an
 *    onStageStart that signals the stage.
 */
export function stageCommand(
  stage: string,
  script: string,
  env: Record<string, string>,
): { cmd: string; args: string[] } {
  const setting = (k: string): string | undefined => {
    const v = env[k] ?? process.env[k];
    delete env[k];
    return v || undefined;
  };
  const node = setting('VGC_STAGE_NODE') ?? process.execPath;
  const flags = (setting('VGC_STAGE_NODE_ARGS') ?? '')
    .split(/\s+/)
    .filter((a) => a !== '')
    .map((a) => a.replaceAll('{stage}', stage));
  const timeDir = setting('VGC_STAGE_TIME_DIR');
  if (!timeDir) return { cmd: node, args: [...flags, script] };
  mkdirSync(timeDir, { recursive: true });
  const out = path.join(timeDir, `${stage}.rss`);
  return { cmd: GNU_TIME, args: ['-f', '%M', '-o', out, node, ...flags, script] };
}

export async function runJob(o: JobOptions): Promise<JobResult> {
  mkdirSync(o.jobDir, { recursive: true });
  const branch = o.headRef ?? o.branch ?? 'main';
  const inputs = { ...actionDefaults(), ...(o.inputs ?? {}) };
  const base: Record<string, string> = {};
  for (const [k, v] of Object.entries(o.env)) if (v !== undefined) base[k] = v;
  Object.assign(base, {
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    GITHUB_WORKSPACE: o.workspace,
    RUNNER_TEMP: path.join(o.jobDir, 'runner-temp'),
    RUNNER_OS:
      process.platform === 'darwin' ? 'macOS' : process.platform === 'win32' ? 'Windows' : 'Linux',
    RUNNER_ARCH: process.arch === 'arm64' ? 'ARM64' : 'X64',
    GITHUB_REF: o.headRef ? 'refs/pull/1/merge' : `refs/heads/${branch}`,
    GITHUB_REF_NAME: o.headRef ? '1/merge' : branch,
    GITHUB_HEAD_REF: o.headRef ?? '',
    GITHUB_EVENT_NAME: o.headRef ? 'pull_request' : 'push',
    GITHUB_RUN_ID: o.runId ?? String(Date.now()),
    GITHUB_RUN_ATTEMPT: o.runAttempt ?? '1',
  });
  mkdirSync(base['RUNNER_TEMP']!, { recursive: true });
  for (const [name, value] of Object.entries(inputs)) {
    base[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  }
  const state: Record<string, string> = {};
  const summaries: string[] = [];
  const annotations: Annotation[] = [];
  let log = '';

  const stage = async (name: 'pre' | 'main' | 'post'): Promise<StageResult> => {
    const files: Record<string, string> = {};
    for (const f of ['GITHUB_OUTPUT', 'GITHUB_STATE', 'GITHUB_ENV', 'GITHUB_STEP_SUMMARY']) {
      files[f] = path.join(o.jobDir, `${name}-${f.toLowerCase()}`);
      writeFileSync(files[f]!, '');
    }
    const env: Record<string, string> = { ...base, ...files, ...(o.stageEnv?.[name] ?? {}) };
    if (name === 'pre' && o.goBinDir && env['PATH']) {
      env['PATH'] = env['PATH']
        .split(path.delimiter)
        .filter((p) => path.resolve(p) !== path.resolve(o.goBinDir!))
        .join(path.delimiter);
    }
    for (const [k, v] of Object.entries(state)) env[`STATE_${k}`] = v;
    const started = Date.now();
    // VGC_DIST runs another build of the stages (say, of an older commit, to see a test fail there).
    const script = path.join(
      process.env['VGC_DIST'] || path.join(REPO_ROOT, 'dist'),
      name,
      'index.js',
    );
    if (!existsSync(script)) throw new Error(`${script} is missing: run npm run build`);
    const { cmd, args } = stageCommand(name, script, env);
    const r = await runProcess(cmd, args, o.workspace, env, (child) =>
      o.onStageStart?.(name, child),
    );
    const ms = Date.now() - started;
    const newState = parseFileCommands(readFileSync(files['GITHUB_STATE']!, 'utf8'));
    Object.assign(state, newState);
    const summary = readFileSync(files['GITHUB_STEP_SUMMARY']!, 'utf8');
    summaries.push(summary);
    const ann = parseAnnotations(r.stdout);
    annotations.push(...ann);
    log += `---- ${name} (exit ${r.code}, ${ms} ms)\n${r.stdout}${r.stderr}`;
    return {
      stage: name,
      exitCode: r.code,
      stdout: r.stdout,
      stderr: r.stderr,
      outputs: parseFileCommands(readFileSync(files['GITHUB_OUTPUT']!, 'utf8')),
      state: newState,
      summary,
      annotations: ann,
      ms,
    };
  };

  const userStep = async (command: string): Promise<JobResult['steps'][number]> => {
    const r = await runProcess('bash', ['-eo', 'pipefail', '-c', command], o.workspace, base);
    log += `---- step: ${command} (exit ${r.code})\n${r.stdout}${r.stderr}`;
    return { command, exitCode: r.code, output: r.stdout + r.stderr };
  };
  const pre = o.skipPre ? undefined : await stage('pre');
  if (o.checkout) await o.checkout();
  const stepsBefore: JobResult['stepsBefore'] = [];
  for (const command of o.stepsBeforeMain ?? []) {
    if (stepsBefore.some((s) => s.exitCode !== 0)) break;
    stepsBefore.push(await userStep(command));
  }
  const failedBefore = stepsBefore.find((s) => s.exitCode !== 0);
  // The runner does not start a step's main when the job already failed before it.
  const main: StageResult =
    pre && pre.exitCode !== 0
      ? { ...pre, stage: 'main (skipped: pre failed)', outputs: {}, state: {}, annotations: [] }
      : failedBefore
        ? {
            stage: 'main (skipped: a step before it failed)',
            exitCode: 0,
            stdout: '',
            stderr: '',
            outputs: {},
            state: {},
            summary: '',
            annotations: [],
            ms: 0,
          }
        : await stage('main');
  const steps: JobResult['steps'] = [];
  for (const command of failedBefore ? [] : (o.stepsAfterMain ?? [])) {
    steps.push(await userStep(command));
  }
  const post = await stage('post');
  const succeeded =
    (pre?.exitCode ?? 0) === 0 &&
    main.exitCode === 0 &&
    post.exitCode === 0 &&
    [...stepsBefore, ...steps].every((s) => s.exitCode === 0);
  return {
    pre,
    main,
    steps,
    stepsBefore,
    post,
    outputs: main.outputs,
    annotations,
    summary: summaries.join(''),
    succeeded,
    log,
  };
}
