/**
 * A re-published version, named with what the restored entry held. When Go's
 * fresh download of a version disagrees with go.sum, the entry this job
 * restored may still hold the version as it was verified when the entry was
 * saved: its hash tells which side changed. Pure.
 */
import type { ChecksumMismatch } from '../go/fetchfail.js';
import type { ModuleFacts } from './judge.js';

/**
 * The hash a restored record holds for a version's content, and where it was
 * read: its zip, else its tree, else its `.ziphash` (a damaged zip or tree
 * records why it could not be hashed instead of an h1: hash).
 */
function heldHash(f: ModuleFacts): { hash: string; from: string } | undefined {
  const found = (
    [
      [f.zipH1, 'its zip'],
      [f.treeH1, 'its tree'],
      [f.ziphash, 'its .ziphash'],
    ] as const
  ).find(([h]) => h?.startsWith('h1:'));
  return found ? { hash: found[0]!, from: found[1] } : undefined;
}

/**
 * One sentence per mismatched version about the restored entry `key`: the
 * hash it held for that version and which side that agrees with. Empty when
 * no entry was restored.
 */
export function restoredEntryNote(
  mismatches: ChecksumMismatch[],
  key: string,
  facts: ModuleFacts[],
): string {
  if (!key) return '';
  const out: string[] = [];
  for (const m of mismatches.filter((x) => !x.goMod)) {
    const id = `${m.path}@${m.version}`;
    const f = facts.find((x) => x.path === m.path && x.version === m.version);
    const held = f ? heldHash(f) : undefined;
    if (!held) {
      out.push(`The restored entry ${key} did not hold ${id}.`);
      continue;
    }
    const verdict =
      held.hash === m.expected
        ? `the same as ${m.source}: the content served for ${id} changed after that entry was verified (a re-published version)`
        : held.hash === m.downloaded
          ? `the same as the download: ${m.source} was edited after that entry was saved`
          : `neither go.sum's nor the download's hash`;
    out.push(
      `The restored entry ${key} held ${id} as ${held.hash} (read from ${held.from}), ${verdict}.`,
    );
  }
  return out.join(' ');
}
