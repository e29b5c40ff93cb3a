/**
 * What one stage hands to the next through the runner's state file.
 */
import * as core from '@actions/core';

export interface PreState {
  ran: boolean;
  modCache: string;
  outcome: string;
  matchedKey: string;
  archiveBytes?: number;
  ms?: number;
}

export interface MainState {
  completed: boolean;
  modCache: string;
  exactKey: string;
  matchedKey: string;
  hitKind: string;
  verified: boolean;
  rebuilt: boolean;
  /** Every module came from a fresh download in this job (a miss): Go checked them against go.sum. */
  freshOnly?: boolean;
  securityError: boolean;
  bad: { module: string; reason: string }[];
  fingerprint: string;
  moduleCount: number;
  depHash: string;
  roots: string[];
  workingDirectory: string;
  exactEntryExists?: boolean;
  restoredBytes?: number;
  timings: Record<string, number>;
}

export function savePre(s: PreState): void {
  core.saveState('pre', JSON.stringify(s));
}

export function saveMain(s: MainState): void {
  core.saveState('main', JSON.stringify(s));
}

function read<T>(name: string): T | undefined {
  const raw = core.getState(name);
  if (!raw) return undefined;
  try {
    return JSON.parse(raw) as T;
  } catch {
    return undefined;
  }
}

export const readPre = (): PreState | undefined => read<PreState>('pre');
export const readMain = (): MainState | undefined => read<MainState>('main');
