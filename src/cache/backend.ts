/**
 * Saving through @actions/cache, behind a small interface that never throws
 * for service trouble: a service that is down, slow or refusing turns into a
 * skipped save with its reason; the job goes on. (Restoring is ours: see
 * entry.ts and service/.)
 */

export type SaveResult =
  | { kind: 'saved'; key: string; archiveBytes?: number }
  | { kind: 'conflict'; key: string }
  | { kind: 'failed'; reason: string };

class Timeout extends Error {}

async function withTimeout<T>(ms: number, what: string, op: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      op(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Timeout(`${what} did not finish within ${Math.round(ms / 1000)} s`)),
          ms,
        );
      }),
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/**
 * Watches what @actions/cache prints while `op` runs: archive sizes, reserve
 * conflicts and failure lines. Its "Failed to restore/save" errors are turned
 * into warnings: a cache problem must not paint the job red.
 */
async function tapped<T>(
  op: () => Promise<T>,
): Promise<{ value: T; lines: string[]; archiveBytes?: number; failure?: string }> {
  const original = process.stdout.write.bind(process.stdout);
  const lines: string[] = [];
  let archiveBytes: number | undefined;
  let failure: string | undefined;
  const write = (chunk: unknown, ...rest: unknown[]): boolean => {
    let text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString();
    for (const line of text.split(/\r?\n/)) {
      if (line === '') continue;
      lines.push(line);
      const size =
        /Cache Size: ~\d+ MB \((\d+) B\)/.exec(line) ?? /^::debug::File Size: (\d+)/.exec(line);
      if (size) archiveBytes = Number(size[1]);
      const fail = /^::(?:error|warning)::(Failed to (?:restore|save): .*)$/.exec(line);
      if (fail) failure = unescapeCommand(fail[1]!);
    }
    text = text.replace(/^::error::(Failed to (?:restore|save))/gm, '::warning::$1');
    return (original as (...a: unknown[]) => boolean)(text, ...rest);
  };
  process.stdout.write = write as typeof process.stdout.write;
  try {
    const value = await op();
    return { value, lines, archiveBytes, failure };
  } finally {
    process.stdout.write = original;
  }
}

/**
 * @actions/cache (with the Azure SDK under it) is loaded only when a job saves
 * on GitHub's service: loading it cost every stage about 200 ms of start-up,
 * and a warm exact hit never saves.
 */
function loadCacheClient(): Promise<typeof import('@actions/cache')> {
  return import('@actions/cache');
}

export interface Backend {
  save(paths: string[], key: string, timeoutMs: number): Promise<SaveResult>;
}

export const actionsCacheBackend: Backend = {
  async save(paths, key, timeoutMs) {
    try {
      const { value, lines, archiveBytes, failure } = await tapped(() =>
        withTimeout(timeoutMs, 'cache save', async () => {
          const cache = await loadCacheClient();
          return cache.saveCache(paths, key);
        }),
      );
      if (value !== -1) return { kind: 'saved', key, archiveBytes };
      if (lines.some((l) => /Unable to reserve cache|another job may be/.test(l))) {
        // The client reports every failed reservation as "another job may be
        // creating this cache"; its debug line says what really happened.
        const why = lines
          .map((l) => /^::debug::Failed to reserve cache: (.*)$/.exec(l)?.[1])
          .find((r) => r !== undefined);
        const first = why === undefined ? undefined : unescapeCommand(why).split('\n')[0];
        if (first === undefined || isConflict(first)) return { kind: 'conflict', key };
        return { kind: 'failed', reason: first };
      }
      return { kind: 'failed', reason: failure ?? 'the cache service did not accept the entry' };
    } catch (e) {
      return { kind: 'failed', reason: (e as Error).message };
    }
  },
};

/** A reservation refused because the key exists or is being uploaded, as opposed to a service failure. */
export function isConflict(reason: string): boolean {
  return /\(409\)|already[ _]exists|conflict/i.test(reason);
}

/**
 * A workflow command's text as it was before @actions/core escaped it. Lines
 * captured from the client's output are escaped; re-emitting them unescaped
 * through core.warning keeps a newline a newline (not a visible `%250A`).
 */
export function unescapeCommand(text: string): string {
  return text.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}
