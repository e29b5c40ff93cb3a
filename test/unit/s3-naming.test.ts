import { describe, expect, it } from 'vitest';
import {
  listPrefix,
  objectName,
  parseObjectName,
  pickMatch,
  prefixPath,
  scopeOfRef,
  scopesFromEnv,
  type Listed,
} from '../../src/cache/s3/naming.js';

const at = (s: number): number => Date.UTC(2026, 0, 1, 0, 0, s);

describe('object names', () => {
  it('are <s3-prefix>/<scope>/<key><ext>, the scope always two segments', () => {
    expect(objectName('go-cache/', 'refs/heads/main', 'k;gen=1', 'zstd')).toBe(
      'go-cache/heads/main/k;gen=1.tar.zst',
    );
    expect(objectName('', 'refs/heads/feature/x', 'k', 'gzip')).toBe('heads/feature%2Fx/k.tar.gz');
    expect(objectName('/a//b/', 'refs/pull/12/merge', 'k', 'zstd')).toBe(
      'a/b/pull/12%2Fmerge/k.tar.zst',
    );
    expect(scopeOfRef('refs/tags/v1.2.0')).toBe('tags/v1.2.0');
    expect(prefixPath('')).toBe('');
  });

  it('read back to the ref, the key and the compression; anything else is not ours', () => {
    const name = objectName('p', 'refs/heads/feature/x', 'vgc-v1;a/b;gen=1', 'zstd');
    expect(parseObjectName('p', name)).toEqual({
      ref: 'refs/heads/feature/x',
      key: 'vgc-v1;a/b;gen=1',
      compression: 'zstd',
    });
    expect(parseObjectName('p', 'p/heads/main/notes.txt')).toBeUndefined();
    expect(parseObjectName('p', 'other/heads/main/k.tar.zst')).toBeUndefined();
    expect(parseObjectName('p', 'p/heads/%E0%A4%A/k.tar.zst')).toBeUndefined();
    expect(parseObjectName('p', 'p/k.tar.zst')).toBeUndefined();
  });
});

describe("pickMatch: the lookup order of GitHub's service within one scope", () => {
  const base = listPrefix('p', 'refs/heads/main', '');
  const obj = (key: string, s: number, ext = '.tar.zst'): Listed => ({
    name: `${base}${key}${ext}`,
    lastModified: at(s),
    size: 1,
  });

  it('takes the exact key over any newer entry that starts with it', () => {
    const listing = [obj('a;sum=1;gen=2', 9), obj('a;sum=1', 1)];
    expect(pickMatch(listing, base, 'a;sum=1', '.tar.zst')?.name).toBe(`${base}a;sum=1.tar.zst`);
  });

  it('else the newest entry whose key starts with the key', () => {
    const listing = [obj('a;sum=1;gen=1', 1), obj('a;sum=2;gen=1', 5), obj('a;sum=1;gen=2', 3)];
    expect(pickMatch(listing, base, 'a;', '.tar.zst')?.name).toBe(`${base}a;sum=2;gen=1.tar.zst`);
    expect(pickMatch(listing, base, 'a;sum=1', '.tar.zst')?.name).toBe(
      `${base}a;sum=1;gen=2.tar.zst`,
    );
  });

  it('breaks a tie of whole-second LastModified by the larger name (the later generation)', () => {
    const listing = [obj('a;gen=1.1.mabc', 4), obj('a;gen=1.1.mabd', 4)];
    expect(pickMatch(listing, base, 'a;', '.tar.zst')?.name).toBe(`${base}a;gen=1.1.mabd.tar.zst`);
  });

  it('never picks an entry of another compression, which this runner did not save', () => {
    const listing = [obj('a;gen=1', 9, '.tar.gz')];
    expect(pickMatch(listing, base, 'a;', '.tar.zst')).toBeUndefined();
    expect(pickMatch(listing, base, 'a;', '.tar.gz')?.name).toBe(`${base}a;gen=1.tar.gz`);
  });

  it('misses when nothing starts with the key', () => {
    expect(pickMatch([obj('b;gen=1', 1)], base, 'a;', '.tar.zst')).toBeUndefined();
  });
});

describe('scopesFromEnv', () => {
  it('a push reads its branch, then the default branch, and writes its branch', () => {
    expect(scopesFromEnv({ GITHUB_REF: 'refs/heads/feature/x' }, 'trunk')).toEqual({
      own: 'refs/heads/feature/x',
      reads: ['refs/heads/feature/x', 'refs/heads/trunk'],
    });
  });

  it('the default branch reads only itself', () => {
    expect(scopesFromEnv({ GITHUB_REF: 'refs/heads/main' }, undefined).reads).toEqual([
      'refs/heads/main',
    ]);
  });

  it('a pull request writes its merge ref, never its head branch (a fork names that), and reads the base and default branches', () => {
    const env = {
      GITHUB_REF: 'refs/pull/7/merge',
      GITHUB_HEAD_REF: 'main',
      GITHUB_BASE_REF: 'release/1',
    };
    expect(scopesFromEnv(env, 'main')).toEqual({
      own: 'refs/pull/7/merge',
      reads: ['refs/pull/7/merge', 'refs/heads/release/1', 'refs/heads/main'],
    });
  });
});
