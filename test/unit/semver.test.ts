import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  isPseudoVersion,
  splitPathMajor,
  versionStep,
} from '../../src/go/semver.js';

describe('isPseudoVersion', () => {
  it.each([
    ['v0.0.0-20240101000000-abcdefabcdef', true],
    ['v1.2.4-0.20210101000000-cccccccccccc', true],
    ['v1.2.3-pre.0.20210101000000-cccccccccccc', true],
    ['v2.0.0-20190101000000-aaaaaaaaaaaa+incompatible', true],
    ['v1.2.3', false],
    ['v1.0.0-rc.1', false],
    ['v2.0.0+incompatible', false],
    ['v1.2.4-0.2021-cccc', false],
  ])('%s -> %s', (v, want) => {
    expect(isPseudoVersion(v)).toBe(want);
  });
});

describe('versionStep', () => {
  it.each([
    ['v1.2.3', 'v2.0.0', 'major'],
    ['v0.9.0', 'v1.0.0', 'major'],
    ['v1.9.0', 'v2.0.0+incompatible', 'major'],
    ['v2.0.0+incompatible', 'v3.1.0+incompatible', 'major'],
    ['v1.2.3', 'v1.3.0', 'minor'],
    ['v0.1.0', 'v0.2.0', 'minor'],
    ['v2.0.0+incompatible', 'v2.1.0+incompatible', 'minor'],
    ['v1.2.3', 'v1.2.4', 'patch'],
    ['v1.2.3', 'v1.2.4-0.20210101000000-cccccccccccc', 'patch'],
    ['v1.2.4-0.20210101000000-cccccccccccc', 'v1.2.4', 'prerelease'],
    ['v1.0.0-rc.1', 'v1.0.0', 'prerelease'],
    ['v2.0.0', 'v2.0.0+incompatible', 'same'],
  ])('%s -> %s is %s', (a, b, want) => {
    expect(versionStep(a, b)).toBe(want);
  });

  it('knows no step between things that are not versions', () => {
    expect(versionStep('latest', 'v1.0.0')).toBeUndefined();
    expect(versionStep('v1.0.0', 'master')).toBeUndefined();
  });

  it('orders a pseudo-version below the release it precedes', () => {
    expect(compareVersions('v1.2.4-0.20210101000000-cccccccccccc', 'v1.2.4')).toBeLessThan(0);
    expect(compareVersions('v1.2.4-0.20210101000000-cccccccccccc', 'v1.2.3')).toBeGreaterThan(0);
  });
});

describe('splitPathMajor', () => {
  it.each([
    ['example.com/m', { root: 'example.com/m' }],
    ['example.com/m/v2', { root: 'example.com/m', major: 2 }],
    ['example.com/m/v10', { root: 'example.com/m', major: 10 }],
    ['example.com/m/v1', { root: 'example.com/m/v1' }],
    ['example.com/m/v0', { root: 'example.com/m/v0' }],
    ['example.com/m/v02', { root: 'example.com/m/v02' }],
    ['gopkg.in/yaml.v3', { root: 'gopkg.in/yaml', major: 3 }],
    ['gopkg.in/check.v1', { root: 'gopkg.in/check', major: 1 }],
    ['example.com/yaml.v3', { root: 'example.com/yaml.v3' }],
  ])('%s', (p, want) => {
    expect(splitPathMajor(p)).toEqual(want);
  });
});
