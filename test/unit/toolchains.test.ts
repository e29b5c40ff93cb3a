import { describe, expect, it } from 'vitest';
import { compareGoVersions } from '../../src/go/workspace.js';
import {
  neededToolchains,
  toolchainSelfCheck,
  toolchainZipChecked,
  withoutGoModCopies,
} from '../../src/verify/toolchains.js';

const H = (c: string): string => `h1:${c.repeat(43)}=`;

describe('withoutGoModCopies', () => {
  const f = (name: string, sha: string): { name: string; sha256hex: string } => ({
    name,
    sha256hex: sha,
  });
  it('drops the go.mod Go copies from a _go.mod on first use, keeps everything else', () => {
    const files = [
      f('golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/src/_go.mod', 'aa'),
      f('golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/src/go.mod', 'aa'),
      f('golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64/bin/go', 'bb'),
    ];
    expect(withoutGoModCopies(files).map((x) => x.name)).toEqual([files[0]!.name, files[2]!.name]);
  });
  it('keeps a go.mod that differs from its _go.mod, so a change fails the hash', () => {
    const files = [f('t@v/src/_go.mod', 'aa'), f('t@v/src/go.mod', 'cc')];
    expect(withoutGoModCopies(files)).toHaveLength(2);
  });
  it('keeps a go.mod with no _go.mod beside it', () => {
    expect(withoutGoModCopies([f('t@v/go.mod', 'aa')])).toHaveLength(1);
  });
});

describe('toolchainSelfCheck', () => {
  it('passes a tree and zip that hash to the .ziphash', () => {
    expect(
      toolchainSelfCheck({
        path: 'golang.org/toolchain',
        version: 'v',
        treeH1: H('a'),
        ziphash: H('a'),
      }),
    ).toBeUndefined();
  });
  it('fails a changed tree, a missing .ziphash and a leftover .partial', () => {
    const base = { path: 'golang.org/toolchain', version: 'v' };
    expect(toolchainSelfCheck({ ...base, treeH1: H('b'), ziphash: H('a') })).toMatch(/tree hashes/);
    expect(toolchainSelfCheck({ ...base, treeH1: H('a') })).toMatch(/no \.ziphash/);
    expect(toolchainSelfCheck({ ...base, treeH1: H('a'), ziphash: H('a'), partial: true })).toMatch(
      /partial/,
    );
  });
});

describe('toolchainZipChecked', () => {
  const base = { path: 'golang.org/toolchain', version: 'v', treeH1: H('a'), ziphash: H('a') };
  it('is true only when the zip itself was hashed and matched its .ziphash', () => {
    expect(toolchainZipChecked({ ...base, zipH1: H('a') })).toBe(true);
    // A toolchain first seen on disk after the restore: its tree was checked, its zip never read.
    expect(toolchainZipChecked(base)).toBe(false);
    expect(toolchainZipChecked({ ...base, zipH1: H('c') })).toBe(false);
    expect(toolchainZipChecked({ ...base, treeH1: H('b'), zipH1: H('a') })).toBe(false);
  });
});

describe('neededToolchains', () => {
  it('names the toolchain a toolchain line or a newer go line asks for, and none otherwise', () => {
    const need = (d: { goVersion?: string; toolchain?: string }[]): string[] =>
      neededToolchains(d, 'go1.26.8', 'linux', 'amd64', compareGoVersions);
    expect(need([{ goVersion: '1.22', toolchain: 'go1.99.0' }])).toEqual([
      'golang.org/toolchain@v0.0.1-go1.99.0.linux-amd64',
    ]);
    expect(need([{ goVersion: '1.27.1' }])).toEqual([
      'golang.org/toolchain@v0.0.1-go1.27.1.linux-amd64',
    ]);
    expect(need([{ goVersion: '1.22', toolchain: 'go1.25.0' }])).toEqual([]);
    expect(need([{ goVersion: '1.26.8' }])).toEqual([]);
  });
});
