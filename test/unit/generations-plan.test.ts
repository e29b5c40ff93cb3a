import { describe, expect, it } from 'vitest';
import {
  GENERATIONS,
  PIN_GROUPS,
  getArgs,
  pinsFor,
  sumStep,
  zipVersions,
} from '../../scripts/generations-plan.js';

describe('pinsFor', () => {
  const groups = [
    [{ path: 'a', version: 'v1.0.0' }],
    [
      { path: 'b', version: 'v1.0.0' },
      { path: 'c', version: 'v0.9.0' },
    ],
  ];

  it('pins every group in generation 1 and none in the last', () => {
    expect(pinsFor(1, groups).map((p) => p.path)).toEqual(['a', 'b', 'c']);
    expect(pinsFor(2, groups).map((p) => p.path)).toEqual(['a']);
    expect(pinsFor(3, groups)).toEqual([]);
  });

  it('refuses generations outside the plan', () => {
    expect(() => pinsFor(0, groups)).toThrow(/outside 1..3/);
    expect(() => pinsFor(4, groups)).toThrow(/outside/);
    expect(() => pinsFor(1.5, groups)).toThrow(/outside/);
  });

  it('gives ten generations, each pinning a subset of the one before', () => {
    expect(GENERATIONS).toBe(10);
    expect(pinsFor(GENERATIONS)).toEqual([]);
    for (let g = 2; g <= GENERATIONS; g++) {
      const before = new Set(getArgs(pinsFor(g - 1)));
      const now = getArgs(pinsFor(g));
      expect(now.every((x) => before.has(x))).toBe(true);
      expect(before.size - now.length).toBe(PIN_GROUPS[GENERATIONS - g]!.length);
    }
    const paths = PIN_GROUPS.flat().map((p) => p.path);
    expect(new Set(paths).size).toBe(paths.length);
  });
});

describe('getArgs', () => {
  it('writes path@version', () => {
    expect(getArgs([{ path: 'example.com/m', version: 'v2.0.0+incompatible' }])).toEqual([
      'example.com/m@v2.0.0+incompatible',
    ]);
  });
});

describe('zipVersions and sumStep', () => {
  const a = [
    'example.com/a v1.0.0 h1:aaa=',
    'example.com/a v1.0.0/go.mod h1:aam=',
    'example.com/b v1.0.0 h1:bbb=',
    'example.com/b v1.0.0/go.mod h1:bbm=',
    'example.com/old v0.1.0/go.mod h1:oom=',
    '',
  ].join('\n');
  const b = [
    'example.com/a v1.0.0 h1:aaa=',
    'example.com/a v1.0.0/go.mod h1:aam=',
    'example.com/b v1.1.0 h1:bbc=',
    'example.com/b v1.1.0/go.mod h1:bbn=',
    'example.com/c v0.2.0 h1:ccc=',
    '',
  ].join('\n');

  it('lists the zip versions only, sorted', () => {
    expect(zipVersions(a)).toEqual(['example.com/a@v1.0.0', 'example.com/b@v1.0.0']);
    expect(zipVersions('')).toEqual([]);
  });

  it('counts versions added, removed and kept', () => {
    expect(sumStep(a, b)).toEqual({ added: 2, removed: 1, kept: 1 });
    expect(sumStep(b, b)).toEqual({ added: 0, removed: 0, kept: 3 });
  });
});
