import { describe, expect, it } from 'vitest';
import { isComplete, judge, repairPlan, type ModuleFacts } from '../../src/verify/judge.js';

const H = (c: string): string => `h1:${c.repeat(43)}=`;
const sums = new Map<string, string>([
  ['example.com/a@v1.0.0', H('A')],
  ['example.com/a@v1.0.0/go.mod', H('a')],
  ['example.com/b@v1.2.0', H('B')],
  ['example.com/b@v1.2.0/go.mod', H('b')],
  // Only the go.mod of an older version is part of the module graph.
  ['example.com/b@v1.1.0/go.mod', H('c')],
]);

function good(path: string, version: string, zip: string, mod: string): ModuleFacts {
  return { path, version, treeH1: zip, zipH1: zip, ziphash: zip, modH1: mod, info: true };
}
const full = (): ModuleFacts[] => [
  good('example.com/a', 'v1.0.0', H('A'), H('a')),
  good('example.com/b', 'v1.2.0', H('B'), H('b')),
  { path: 'example.com/b', version: 'v1.1.0', modH1: H('c') },
];

describe('judge', () => {
  it('a cache holding everything go.sum names, all matching, is complete and verified', () => {
    const j = judge(full(), sums, { zipsExpected: true });
    expect(j.bad).toEqual([]);
    expect(j.verified).toEqual(['example.com/a@v1.0.0', 'example.com/b@v1.2.0']);
    expect(j.verifiedModOnly).toEqual(['example.com/b@v1.1.0']);
    expect(isComplete(j)).toBe(true);
  });

  it('lists the verified versions whose zip is known good: hashed, or checked by Go as it downloaded it', () => {
    const [a, b, bMod] = full();
    const noZip = { ...a!, zipH1: undefined };
    const fresh: ModuleFacts = {
      path: 'example.com/b',
      version: 'v1.2.0',
      ziphash: H('B'),
      modH1: H('b'),
      fresh: true,
    };
    expect(judge(full(), sums, { zipsExpected: false }).verifiedZips).toEqual([
      'example.com/a@v1.0.0',
      'example.com/b@v1.2.0',
    ]);
    const j = judge([noZip, fresh, bMod!], sums, { zipsExpected: false });
    expect(j.verified).toEqual(['example.com/a@v1.0.0', 'example.com/b@v1.2.0']);
    expect(j.verifiedZips).toEqual(['example.com/b@v1.2.0']);
    // A zip that does not match go.sum makes the version bad, never a verified zip.
    const badZip = { ...b!, zipH1: H('X') };
    expect(judge([a!, badZip, bMod!], sums, { zipsExpected: false }).verifiedZips).toEqual([
      'example.com/a@v1.0.0',
    ]);
  });

  it('keeps the go.mod of a version whose zip go.sum names but the cache lacks', () => {
    // An untidy go.sum: a's zip is named, but the build fetched only its go.mod.
    const [, b, bMod] = full();
    const aModOnly: ModuleFacts = { path: 'example.com/a', version: 'v1.0.0', modH1: H('a') };
    const j = judge([aModOnly, b!, bMod!], sums, { zipsExpected: true });
    expect(j.missing).toEqual(['example.com/a@v1.0.0']);
    expect(j.verifiedModOnly).toEqual(['example.com/a@v1.0.0', 'example.com/b@v1.1.0']);
    // A go.mod that does not match go.sum is bad, never kept.
    const altered = { ...aModOnly, modH1: H('z') };
    const k = judge([altered, b!, bMod!], sums, { zipsExpected: true });
    expect(k.verifiedModOnly).toEqual(['example.com/b@v1.1.0']);
    expect(k.bad.map((x) => x.module)).toEqual(['example.com/a@v1.0.0']);
  });

  it('an empty cache is not complete: everything go.sum names is missing', () => {
    const j = judge([], sums, { zipsExpected: true });
    expect(isComplete(j)).toBe(false);
    expect(j.missing).toEqual(['example.com/a@v1.0.0', 'example.com/b@v1.2.0']);
    expect(j.missingMods).toEqual(['example.com/b@v1.1.0']);
    expect(j.verified).toEqual([]);
  });

  it('a cache missing one module says which', () => {
    const j = judge(full().slice(1), sums, { zipsExpected: true });
    expect(j.missing).toEqual(['example.com/a@v1.0.0']);
    expect(isComplete(j)).toBe(false);
  });

  it('a lean entry (no zips) is complete without zips, a full one is not', () => {
    const lean = full().map((m) => ({ ...m, zipH1: undefined }));
    expect(isComplete(judge(lean, sums, { zipsExpected: false }))).toBe(true);
    expect(judge(lean, sums, { zipsExpected: true }).missing).toHaveLength(2);
  });

  it('a tree changed behind an intact zip is re-extracted offline; a bad zip is downloaded', () => {
    const m = full();
    m[0] = { ...m[0]!, treeH1: H('X') };
    m[1] = { ...m[1]!, zipH1: H('Y'), treeH1: H('Y'), ziphash: H('Y') };
    const j = judge(m, sums, { zipsExpected: true });
    expect(j.bad.map((b) => b.module)).toContain('example.com/a@v1.0.0');
    expect(j.bad.find((b) => b.module === 'example.com/a@v1.0.0')!.reason).toMatch(
      /extracted files hash to .*go\.sum says/,
    );
    expect(repairPlan(j)).toEqual([
      { path: 'example.com/a', version: 'v1.0.0', how: 're-extract' },
      { path: 'example.com/b', version: 'v1.2.0', how: 'download' },
    ]);
    expect(j.verified).toEqual([]);
  });

  it('a leftover .partial with an intact zip is healed from the zip, like Go does', () => {
    const m = full();
    m[0] = { ...m[0]!, partial: true };
    const j = judge(m, sums, { zipsExpected: true });
    expect(repairPlan(j)).toEqual([
      { path: 'example.com/a', version: 'v1.0.0', how: 're-extract' },
    ]);
  });

  it('a wrong go.mod is bad and needs a download', () => {
    const m = full();
    m[2] = { ...m[2]!, modH1: H('Z') };
    const j = judge(m, sums, { zipsExpected: true });
    expect(repairPlan(j)).toEqual([{ path: 'example.com/b', version: 'v1.1.0', how: 'download' }]);
  });

  it('content replaced consistently in zip, .ziphash and tree is caught: go.sum disagrees', () => {
    const m = full();
    m[0] = good('example.com/a', 'v1.0.0', H('E'), H('a'));
    expect(judge(m, sums, { zipsExpected: true }).bad).toHaveLength(3);
  });

  it('versions go.sum does not name are listed apart and never counted as verified', () => {
    const toolchain = good('golang.org/toolchain', 'v0.0.1-go1.99.0.linux-amd64', H('T'), H('t'));
    const j = judge([...full(), toolchain], sums, { zipsExpected: true });
    expect(j.unnamed.map((m) => m.path)).toEqual(['golang.org/toolchain']);
    expect(j.verified).not.toContain('golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64');
    expect(isComplete(j)).toBe(true);
  });
});
