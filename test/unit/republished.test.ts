import { describe, expect, it } from 'vitest';
import type { ChecksumMismatch } from '../../src/go/fetchfail.js';
import type { ModuleFacts } from '../../src/verify/judge.js';
import { restoredEntryNote } from '../../src/verify/republished.js';

const mismatch: ChecksumMismatch = {
  path: 'corp.example.test/auth',
  version: 'v1.0.0',
  goMod: false,
  downloaded: 'h1:NEW=',
  source: 'go.sum',
  expected: 'h1:OLD=',
};
const KEY = 'vgc-v1;linux-x64;env=x;ref=main;sum=abc;gen=7.1';
const facts = (f: Partial<ModuleFacts>): ModuleFacts[] => [
  { path: 'corp.example.test/auth', version: 'v1.0.0', ...f },
];

describe('restoredEntryNote', () => {
  it('names the entry and the hash it held; go.sum agreeing means the content changed', () => {
    const note = restoredEntryNote([mismatch], KEY, facts({ ziphash: 'h1:OLD=' }));
    expect(note).toBe(
      `The restored entry ${KEY} held corp.example.test/auth@v1.0.0 as h1:OLD= (read from its ` +
        '.ziphash), the same as go.sum: the content served for corp.example.test/auth@v1.0.0 ' +
        'changed after that entry was verified (a re-published version).',
    );
  });

  it('prefers the hash of the zip itself, and says when it agrees with the download', () => {
    const note = restoredEntryNote(
      [mismatch],
      KEY,
      facts({ zipH1: 'h1:NEW=', ziphash: 'h1:OLD=' }),
    );
    expect(note).toContain('as h1:NEW= (read from its zip)');
    expect(note).toContain('the same as the download: go.sum was edited');
    const damaged = restoredEntryNote(
      [mismatch],
      KEY,
      facts({ zipH1: '(unhashable: zip: not a valid zip file)', ziphash: 'h1:OLD=' }),
    );
    expect(damaged).toContain('as h1:OLD= (read from its .ziphash), the same as go.sum');
  });

  it('says when the entry did not hold the version, and is empty without an entry', () => {
    expect(restoredEntryNote([mismatch], KEY, [])).toBe(
      `The restored entry ${KEY} did not hold corp.example.test/auth@v1.0.0.`,
    );
    expect(restoredEntryNote([mismatch], '', facts({ zipH1: 'h1:OLD=' }))).toBe('');
    expect(restoredEntryNote([{ ...mismatch, goMod: true }], KEY, [])).toBe('');
  });
});
