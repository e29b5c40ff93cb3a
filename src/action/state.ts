/**
 * What one stage hands to the next through the runner's state file. The
 * runner passes each value to later stages as a STATE_<name> environment
 * variable, and Linux refuses to start a process with one over 128 KiB, so a
 * large state (a project with thousands of modules) goes to a file in
 * RUNNER_TEMP and the variable carries its path.
 */
import * as core from '@actions/core';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Dropped } from '../verify/record.js';

export interface PreState {
  ran: boolean;
  modCache: string;
  outcome: string;
  matchedKey: string;
  archiveBytes?: number;
  /** JSON file holding the hashes computed while extracting (an ExtractRecord). */
  recordFile?: string;
  /** Where the entry was restored, beside the module cache, until main proves it. */
  quarantine?: string;
  /** Files of the entry the closed layout did not write. */
  dropped?: Dropped;
  ms?: number;
}

export interface MainState {
  mode?: 'job' | 'health';
  completed: boolean;
  modCache: string;
  exactKey: string;
  matchedKey: string;
  hitKind: string;
  verified: boolean;
  rebuilt: boolean;
  repaired: { module: string; how: string; fetchedBytes: number }[];
  securityError: boolean;
  /** Why the module cache was left alone: the build reads vendor/ (GOFLAGS=-mod=vendor). */
  vendorOnly?: string;
  bad: { module: string; reason: string }[];
  /** Digest of the names in the download area after main: a change means later steps added files. */
  fingerprint: string;
  moduleCount: number;
  depHash: string;
  /** The files the key hashes (go.mod, go.sum, go.work, go.work.sum in scope). */
  keyFiles: string[];
  sumFiles: string[];
  workingDirectory: string;
  /** Verified `path@version` with trees: what a saved entry holds. */
  full: string[];
  /** Those of `full` whose zip matched go.sum (or Go checked it as it downloaded it). */
  verifiedZips?: string[];
  /** Verified `path@version` whose go.mod alone is needed. */
  modOnly: string[];
  /** Cached toolchains that passed verification. */
  toolchains: string[];
  /**
   * Those of `toolchains` whose zip was hashed and matched, or that Go
   * downloaded in this job (checking the zip as it did): saved as the zip alone.
   */
  toolchainZips?: string[];
  /** `path@version` Go downloaded in this job, and the bytes of their zips. */
  downloaded: string[];
  downloadedBytes: number;
  exactEntryExists?: boolean;
  restoredBytes?: number;
  /** main's own quarantine (a restore of its own), until promoted. */
  quarantine?: string;
  /** Files of the restored entry the closed layout did not write. */
  dropped?: Dropped;
  /** Module versions moved from the quarantine into the module cache. */
  promoted?: number;
  timings: Record<string, number>;
  cacheMode: string;
  /** Lines for the summary. */
  notes: string[];
  replaced?: { from: string; to: string; kind: string; note: string }[];
  vendored?: string[];
  /** Error diagnostics of the project (`file:line: message`): not the cache's problems. */
  projectErrors?: string[];
  /** The go.sum-named versions the restored entry held, for the drift report. */
  restoredVersions?: string[];
  /** go.sum-named versions neither the build nor the module graph needed (go.sum not tidy). */
  unneeded?: string[];
  /** Toolchains the project's go.mod / go.work ask for: the only ones an entry keeps. */
  neededToolchains?: string[];
  /** Markdown blocks for the summary (drift). */
  sections?: string[];
  buildCache?: unknown;
  /** Transient: the drift measured in main, rendered into `sections`. */
  drift?: import('../report/drift.js').Drift;
}

/** States longer than this go to a file (well under the 128 KiB a variable may hold). */
export const INLINE_STATE_BYTES = 32 << 10;

/** The value saved for a state: the JSON itself, or a pointer to a file holding it. */
export function stateValue(name: string, json: string, dir: string): string {
  if (Buffer.byteLength(json) <= INLINE_STATE_BYTES) return json;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `state-${name}-${process.pid}-${Date.now()}.json`);
  writeFileSync(file, json);
  return JSON.stringify({ stateFile: file });
}

/** The JSON a saved value stands for (reading the file a pointer names). */
export function stateJson(raw: string): string {
  const parsed = JSON.parse(raw) as { stateFile?: unknown };
  if (typeof parsed.stateFile === 'string' && Object.keys(parsed).length === 1)
    return readFileSync(parsed.stateFile, 'utf8');
  return raw;
}

function stateDir(): string {
  return path.join(process.env['RUNNER_TEMP'] || os.tmpdir(), 'verified-go-cache');
}

export function savePre(s: PreState): void {
  core.saveState('pre', stateValue('pre', JSON.stringify(s), stateDir()));
}

export function saveMain(s: MainState): void {
  core.saveState('main', stateValue('main', JSON.stringify(s), stateDir()));
}

function read<T>(name: string): T | undefined {
  const raw = core.getState(name);
  if (!raw) return undefined;
  try {
    return JSON.parse(stateJson(raw)) as T;
  } catch {
    return undefined;
  }
}

export const readPre = (): PreState | undefined => read<PreState>('pre');
export const readMain = (): MainState | undefined => read<MainState>('main');
