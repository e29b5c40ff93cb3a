/**
 * Whether this job may save the build cache.
 *
 * Go cannot check a build cache against anything: an entry maps a hash of the
 * inputs of a compilation to its output, and whoever wrote the entry chose
 * that output. The module cache is verified against go.sum; the build cache
 * cannot be. So the only defence is who may write it: by default only pushes
 * to the default branch (code that already passed review), and never a pull
 * request whatever the input says: its code is not reviewed yet, and an entry
 * it wrote would be restored into its later runs.
 */
import { defaultBranchFromEvent } from '../cache/event.js';
import type { BuildCacheSave } from '../action/inputs.js';

export interface SaveFacts {
  mode: BuildCacheSave;
  /** GITHUB_EVENT_NAME */
  eventName: string;
  /** GITHUB_REF */
  ref: string;
  /** GITHUB_BASE_REF: set only for pull_request and pull_request_target events. */
  baseRef: string;
  /** `repository.default_branch` of the event payload, when known. */
  defaultBranch?: string;
}

export interface SavePolicy {
  save: boolean;
  why: string;
}

/** Every pull-request-like event: the code under test is not reviewed yet. */
export function isPullRequest(eventName: string, baseRef: string): boolean {
  return eventName.startsWith('pull_request') || baseRef.trim() !== '';
}

/** Pure: may this job save the build cache, and why (for the summary). */
export function buildCacheSavePolicy(f: SaveFacts): SavePolicy {
  if (f.mode === 'never') return { save: false, why: "build-cache-save is 'never'" };
  if (isPullRequest(f.eventName, f.baseRef)) {
    return {
      save: false,
      why: `a ${f.eventName || 'pull request'} job never saves the build cache (it cannot be verified)`,
    };
  }
  if (f.mode === 'always') return { save: true, why: "build-cache-save is 'always'" };
  if (f.eventName !== 'push') {
    return {
      save: false,
      why:
        `only pushes to the default branch save the build cache, this is a ` +
        `'${f.eventName || 'unknown'}' event (set build-cache-save: always to save from it)`,
    };
  }
  if (!f.defaultBranch) {
    return {
      save: false,
      why: 'the default branch is unknown (no repository.default_branch in the event payload)',
    };
  }
  if (f.ref !== `refs/heads/${f.defaultBranch}`) {
    return {
      save: false,
      why: `only pushes to the default branch (${f.defaultBranch}) save the build cache, this is ${f.ref}`,
    };
  }
  return { save: true, why: `push to the default branch (${f.defaultBranch})` };
}

export { defaultBranchFromEvent };

/** The facts from the runner's environment. */
export function saveFactsFromEnv(mode: BuildCacheSave, env: NodeJS.ProcessEnv): SaveFacts {
  return {
    mode,
    eventName: env['GITHUB_EVENT_NAME'] ?? '',
    ref: env['GITHUB_REF'] ?? '',
    baseRef: env['GITHUB_BASE_REF'] ?? '',
    defaultBranch: defaultBranchFromEvent(env['GITHUB_EVENT_PATH']),
  };
}
