/**
 * The Go project in the workspace: its dependency files, their hash, and the
 * directories where Go commands must run.
 */
import * as glob from '@actions/glob';
import { existsSync, promises as fs } from 'node:fs';
import * as path from 'node:path';
import { hashDependencyFiles } from '../cache/key.js';

export interface DependencyFiles {
  workingDirectory: string;
  /** Absolute paths, sorted. */
  files: string[];
  /** Hash over the files' relative paths and contents (of the empty set when none matched). */
  hash: string;
}

export function resolveWorkingDirectory(workspace: string, workingDirectory: string): string {
  return path.resolve(workspace, workingDirectory);
}

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
  const contents = await Promise.all(
    files.map(async (f) => ({
      path: path.relative(workingDirectory, f).split(path.sep).join('/'),
      content: await fs.readFile(f),
    })),
  );
  return { workingDirectory, files, hash: hashDependencyFiles(contents) };
}

/**
 * Directories where `go mod download` and `go mod verify` run: the working
 * directory alone when it is in a go.work workspace (one run covers every
 * member), else every directory holding a matched go.sum and a go.mod, plus
 * the working directory if it has a go.mod.
 */
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
