/**
 * main's first phase and the shapes its phases share: Go, the module cache's
 * location, the project in scope, its go.sum and keys; the errors main raises.
 */
import * as core from '@actions/core';
import * as glob from '@actions/glob';
import * as path from 'node:path';
import { type Context } from '../../action/context.js';
import { InputError } from '../../action/inputs.js';
import { splitModuleId } from '../../go/gosum.js';
import { type MainState } from '../../action/state.js';
import type { Dropped } from '../../verify/record.js';
import { deriveKeys, type HitKind } from '../../cache/key.js';
import { readProject, vendorRoots, type GoProject } from '../../go/project.js';
import { vendorOnlyReason } from '../../go/vendor.js';
import { Go } from '../../go/toolchain.js';
import { type Judgement, type ModuleFacts } from '../../verify/judge.js';
import { type ToolchainCheck } from '../../verify/toolchains.js';
import { loadSums } from '../../verify/verify.js';
import type { ChecksumMismatch } from '../../go/fetchfail.js';
import { logModuleSources, MODULE_SOURCE_VARIABLES } from '../../action/secrets.js';

/** A checksum mismatch Go reported for a fresh download: never cache corruption. */
export class SecurityError extends Error {
  constructor(
    message: string,
    readonly mismatches: ChecksumMismatch[] = [],
  ) {
    super(message);
    this.name = 'SecurityError';
  }
}
/** A go command failed for a reason that is not the cache's: reported, never repaired. */
export class GoCommandError extends Error {}
export interface Setup {
  go: Go;
  modCache: string;
  goVersion: string;
  hostOs: string;
  hostArch: string;
  project: GoProject;
  sums: Map<string, string>;
  exactKey: string;
  lineage: string[];
  /** Error-level diagnostics: the project cannot load, so no go command will succeed. */
  projectErrors: string[];
}
export interface Obtained {
  /** Of the entry as restored (the quarantine), or of the module cache as found. */
  facts: ModuleFacts[];
  hitKind: HitKind;
  matchedKey: string;
  restoredBytes?: number;
  /** Where the entry waits until it is proven; none for a local cache or a miss. */
  quarantine?: string;
  dropped?: Dropped;
}
/** The module cache once the entry's proven versions are in place. */
export interface Admitted {
  /** The verdict on what was restored (or found), before any repair. */
  judgement: Judgement;
  /** Of the module cache now. */
  facts: ModuleFacts[];
  toolchains: ToolchainCheck;
}
export function annotate(project: GoProject, workspace: string): string[] {
  const errors: string[] = [];
  for (const d of project.diagnostics) {
    const file = path.relative(workspace, d.file) || d.file;
    const props = { file, ...(d.line ? { startLine: d.line } : {}) };
    const text = `${file}${d.line ? `:${d.line}` : ''}: ${d.message}`;
    if (d.level === 'error') {
      core.error(d.message, props);
      errors.push(text);
    } else if (d.level === 'warning') core.warning(d.message, props);
    else core.notice(d.message, props);
  }
  return errors;
}
/** Phase 1: Go, the module cache's location, the project in scope, its go.sum and keys. */
export async function locate(ctx: Context, st: MainState): Promise<Setup> {
  const go = await Go.find();
  const goEnv = await go.env(ctx.workingDirectory, MODULE_SOURCE_VARIABLES);
  st.modCache = goEnv.GOMODCACHE;
  core.info(`${goEnv.GOVERSION}, GOMODCACHE=${goEnv.GOMODCACHE}`);
  logModuleSources(goEnv.all);
  const project = await readProject(go, ctx.workingDirectory, {
    goSumFiles: ctx.inputs.goSumFiles,
    goSumFilesIsDefault: ctx.inputs.goSumFilesIsDefault,
  });
  await checkExplicitGlobs(ctx);
  const projectErrors = annotate(project, ctx.workspace);
  st.projectErrors = projectErrors;
  for (const m of project.members) core.info(`In scope: ${m.modulePath} (${m.dir}; ${m.why})`);
  st.depHash = project.depHash;
  st.keyFiles = project.keyFiles;
  st.sumFiles = project.sumFiles;
  st.replaced = project.replaced;
  st.vendored = project.members
    .filter((m) => m.vendored)
    .map((m) => path.relative(ctx.workspace, m.dir) || '.');
  const all = await loadSums(project.sumFiles);
  const sums = withoutReplaced(all, project);
  // Post judges completeness on the go.sum files again: it must leave these out too.
  st.unneeded = [...all.keys()].filter((id) => !sums.has(id) && !id.endsWith('/go.mod'));
  const plan = deriveKeys(ctx.keyParts, project.depHash);
  st.exactKey = plan.exact!;
  core.info(`Exact key: ${st.exactKey}`);
  return {
    go,
    modCache: goEnv.GOMODCACHE,
    goVersion: goEnv.GOVERSION,
    hostOs: goEnv.GOHOSTOS,
    hostArch: goEnv.GOHOSTARCH,
    project,
    sums,
    exactKey: plan.exact!,
    lineage: plan.lineage,
    projectErrors,
  };
}
/**
 * go.sum lines of modules a replace directive swaps out: Go never needs the
 * original, so they are not part of completeness (the replacement is, when it
 * is a module; a local directory is not a cache matter).
 */
export function withoutReplaced(
  sums: Map<string, string>,
  project: GoProject,
): Map<string, string> {
  if (project.replaced.length === 0) return sums;
  const out = new Map(sums);
  for (const r of project.replaced) {
    for (const id of sums.keys()) {
      const bare = id.endsWith('/go.mod') ? id.slice(0, -'/go.mod'.length) : id;
      if (r.from === bare || r.from === splitModuleId(bare).path) out.delete(id);
    }
  }
  return out;
}
/** Explicit go-sum-files globs must each match something: a glob that does not is a typo. */
export async function checkExplicitGlobs(ctx: Context): Promise<void> {
  if (ctx.inputs.goSumFilesIsDefault) return;
  for (const pattern of ctx.inputs.goSumFiles) {
    if (pattern.startsWith('!')) continue;
    const globber = await glob.create(path.join(ctx.workingDirectory, pattern), {
      followSymbolicLinks: false,
      matchDirectories: false,
    });
    if ((await globber.glob()).length > 0) continue;
    throw new InputError(
      'go-sum-files',
      `no file under ${ctx.workingDirectory} matches ${pattern}. Fix the globs (they are ` +
        'relative to working-directory), or remove the input: the module at working-directory ' +
        'and its go.work members are always in scope.',
    );
  }
}
/**
 * GOFLAGS=-mod=vendor with every module in scope vendored: the build never
 * reads the module cache, so it is not restored, proven or saved (the build
 * cache, when asked for, still is). Says so; true when main stops here.
 */
export function skipForVendor(s: Setup, st: MainState): boolean {
  const why = vendorOnlyReason(process.env['GOFLAGS'] ?? '', vendorRoots(s.project));
  if (!why) return false;
  st.vendorOnly = why;
  st.completed = true;
  core.notice(`Module cache not used: ${why}`);
  return true;
}
