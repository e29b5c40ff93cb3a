/**
 * What the event payload (GITHUB_EVENT_PATH) says about the repository, for
 * the choices that depend on its default branch: which scope every branch
 * may read on an S3 store, and when the build cache is saved.
 */
import { readFileSync } from 'node:fs';

/** `repository.default_branch` from the event payload at GITHUB_EVENT_PATH, if readable. */
export function defaultBranchFromEvent(eventPath: string | undefined): string | undefined {
  if (!eventPath) return undefined;
  try {
    const payload = JSON.parse(readFileSync(eventPath, 'utf8')) as {
      repository?: { default_branch?: unknown };
    };
    const branch = payload.repository?.default_branch;
    return typeof branch === 'string' && branch !== '' ? branch : undefined;
  } catch {
    return undefined;
  }
}
