import { describe, expect, it } from 'vitest';
import {
  branchFromEnv,
  classifyMatch,
  deriveKeys,
  firstGenerationKey,
  generationKey,
  hashDependencyFiles,
  lineagePrefixes,
  MAX_KEY_LENGTH,
  platformFromEnv,
  sanitizePart,
  type KeyParts,
} from '../../src/cache/key.js';

const parts: KeyParts = {
  prefix: 'vgc-v1',
  os: 'linux',
  arch: 'x64',
  environment: 'prod',
  branch: 'main',
};
const HASH = 'a'.repeat(40);

describe('deriveKeys', () => {
  it('builds the exact key and the lineage, most specific first', () => {
    const plan = deriveKeys(parts, HASH);
    expect(plan.exact).toBe(`vgc-v1;linux-x64;env=prod;ref=main;sum=${HASH}`);
    expect(plan.lineage).toEqual([
      'vgc-v1;linux-x64;env=prod;ref=main;',
      'vgc-v1;linux-x64;env=prod;',
    ]);
  });

  it('has no exact key before go.sum is known (pre before checkout)', () => {
    expect(deriveKeys(parts).exact).toBeUndefined();
    expect(deriveKeys(parts).lineage).toHaveLength(2);
  });

  it('never lets one environment read another, even when one name prefixes the other', () => {
    for (const other of ['prod-eu', 'prod;x', 'prod ', 'production', 'prod/eu']) {
      const mine = deriveKeys(parts, HASH);
      const theirs = deriveKeys({ ...parts, environment: other }, HASH);
      for (const restore of mine.lineage) {
        expect(theirs.exact!.startsWith(restore), `${other} vs ${restore}`).toBe(
          other.trim() === 'prod',
        );
      }
    }
  });

  it('keeps every key free of commas and under 512 characters, whatever the input', () => {
    const wild: KeyParts = {
      prefix: 'p,'.repeat(40),
      os: 'Linux',
      arch: 'X64',
      environment: 'a, b; c\n'.repeat(100),
      branch: 'feature/'.repeat(60),
    };
    const plan = deriveKeys(wild, HASH);
    for (const k of [plan.exact!, ...plan.lineage]) {
      expect(k).not.toContain(',');
      expect(k.length).toBeLessThan(MAX_KEY_LENGTH - 40);
    }
    expect(generationKey(plan.exact!, '9'.repeat(20), '3').length).toBeLessThanOrEqual(
      MAX_KEY_LENGTH,
    );
  });

  it('rejects a dependency hash that is not hex', () => {
    expect(() => deriveKeys(parts, 'not-a-hash')).toThrow(/must be hex/);
  });
});

describe('sanitizePart', () => {
  it('keeps safe values as they are', () => {
    expect(sanitizePart('release/1.2', 'x')).toBe('release/1.2');
  });
  it('replaces unsafe characters and adds a hash so different raw values stay different', () => {
    const a = sanitizePart('prod, eu west', 'x');
    const b = sanitizePart('prod__eu_west', 'x');
    const c = sanitizePart('prod; eu west', 'x');
    expect(a).toMatch(/^prod__eu_west~[0-9a-f]{8}$/);
    expect(b).toBe('prod__eu_west');
    expect(new Set([a, b, c]).size).toBe(3);
  });
  it('uses the fallback for empty values', () => {
    expect(sanitizePart('  ', 'default')).toBe('default');
  });
  it('truncates long values with a hash', () => {
    const long = sanitizePart('x'.repeat(300), 'd');
    expect(long.length).toBe(64);
    expect(long).not.toBe(sanitizePart('x'.repeat(301), 'd'));
  });
});

describe('generations and matches', () => {
  const exact = deriveKeys(parts, HASH).exact!;
  it('a generation of the exact key is an exact hit; anything else from the lineage is not', () => {
    expect(classifyMatch(exact, generationKey(exact, '17', '2'))).toBe('exact');
    expect(classifyMatch(exact, `${lineagePrefixes(parts)[0]}sum=${'b'.repeat(40)};gen=1.1`)).toBe(
      'lineage',
    );
    expect(classifyMatch(exact, undefined)).toBe('miss');
  });
  it('a generation key starts with the exact key, so the service prefers the newest generation', () => {
    const t = Date.UTC(2026, 10, 22);
    expect(generationKey(exact, '17', '2', t, 'abcdef')).toBe(
      `${exact};gen=17.2.${t.toString(36)}abcdef`,
    );
  });
  it('generations stay unique when the run id repeats (act gives every run id 1)', () => {
    const keys = new Set<string>();
    for (let i = 0; i < 50; i++) keys.add(generationKey(exact, '1', '1'));
    expect(keys.size).toBe(50);
  });
  it('a first entry for a go.sum is keyed by run id and attempt, so matrix siblings collide on it', () => {
    expect(firstGenerationKey(exact, '17', '2')).toBe(`${exact};gen=17.2`);
    expect(classifyMatch(exact, firstGenerationKey(exact, '17', '2'))).toBe('exact');
  });
  it('a matched key is compared with the exact key without regard to case', () => {
    expect(classifyMatch(exact, generationKey(exact, '1', '1').toUpperCase())).toBe('exact');
  });
});

describe('case folding', () => {
  const lowerAll = (p: ReturnType<typeof deriveKeys>): string[] =>
    [p.exact!, ...p.lineage].map((k) => k.toLowerCase());
  it('keys are lower case, so a service or runner that folds case finds them as written', () => {
    const plan = deriveKeys({ ...parts, environment: 'Prod', branch: 'Feature-X' }, HASH);
    for (const k of [plan.exact!, ...plan.lineage]) expect(k).toBe(k.toLowerCase());
    expect(plan.exact).toMatch(/env=prod~[0-9a-f]{8};ref=feature-x~[0-9a-f]{8};/);
  });
  it('environments and branches that differ only in case keep different keys after lower-casing', () => {
    const prod = deriveKeys({ ...parts, environment: 'prod' }, HASH);
    const Prod = deriveKeys({ ...parts, environment: 'Prod' }, HASH);
    const PROD = deriveKeys({ ...parts, environment: 'PROD' }, HASH);
    expect(new Set([prod, Prod, PROD].map((p) => lowerAll(p)[0])).size).toBe(3);
    // No environment's restore keys reach another's entries after folding.
    for (const [a, b] of [
      [prod, Prod],
      [Prod, PROD],
    ] as const) {
      for (const restore of lowerAll(a).slice(1)) {
        expect(lowerAll(b)[0]!.startsWith(restore)).toBe(false);
      }
    }
    const main = deriveKeys({ ...parts, branch: 'feature' }, HASH);
    const Main = deriveKeys({ ...parts, branch: 'Feature' }, HASH);
    expect(lowerAll(main)[0]).not.toBe(lowerAll(Main)[0]);
  });
  it('the same raw name always gives the same key, so exact hits survive from run to run', () => {
    const a = deriveKeys({ ...parts, branch: 'Feature-X' }, HASH).exact;
    expect(deriveKeys({ ...parts, branch: 'Feature-X' }, HASH).exact).toBe(a);
  });
});

describe('environment helpers', () => {
  it('uses the head branch for pull requests', () => {
    expect(branchFromEnv({ GITHUB_HEAD_REF: 'feat', GITHUB_REF_NAME: '5/merge' })).toBe('feat');
    expect(branchFromEnv({ GITHUB_HEAD_REF: '', GITHUB_REF_NAME: 'main' })).toBe('main');
    expect(branchFromEnv({ GITHUB_REF: 'refs/heads/dev' })).toBe('dev');
  });
  it('normalises the platform', () => {
    expect(platformFromEnv({ RUNNER_OS: 'Windows', RUNNER_ARCH: 'ARM64' }, 'linux', 'x64')).toEqual(
      {
        os: 'windows',
        arch: 'arm64',
      },
    );
    expect(platformFromEnv({}, 'darwin', 'arm64')).toEqual({ os: 'darwin', arch: 'arm64' });
  });
});

describe('hashDependencyFiles', () => {
  it('depends on contents and paths, not on order', () => {
    const a = { path: 'go.sum', content: 'x' };
    const b = { path: 'tools/go.sum', content: 'y' };
    expect(hashDependencyFiles([a, b])).toBe(hashDependencyFiles([b, a]));
    expect(hashDependencyFiles([a, b])).not.toBe(hashDependencyFiles([a, { ...b, content: 'z' }]));
    expect(hashDependencyFiles([a])).not.toBe(hashDependencyFiles([{ ...a, path: 'sub/go.sum' }]));
    expect(hashDependencyFiles([{ path: 'a\\go.sum', content: 'x' }])).toBe(
      hashDependencyFiles([{ path: 'a/go.sum', content: 'x' }]),
    );
    expect(hashDependencyFiles([a])).toMatch(/^[0-9a-f]{40}$/);
  });
});
