/**
 * Windows and macOS path logic, tested on any machine with the platform as a
 * parameter (issue 9, point 3).
 */
import { describe, expect, it } from 'vitest';
import {
  caseInsensitiveFs,
  envValue,
  locateModCacheWithoutGo,
  modeBeforeRemove,
  samePath,
  splitPathList,
} from '../../src/go/paths.js';

describe('locateModCacheWithoutGo', () => {
  it.each([
    ['linux', { GOMODCACHE: '/m', GOPATH: '/g', HOME: '/h' }, '/m'],
    ['linux', { GOPATH: '/g1:/g2', HOME: '/h' }, '/g1/pkg/mod'],
    ['linux', { GOPATH: ':/g1:/g2' }, '/g1/pkg/mod'],
    ['linux', { HOME: '/home/runner' }, '/home/runner/go/pkg/mod'],
    ['linux', { USERPROFILE: '/ignored', HOME: '/home/runner' }, '/home/runner/go/pkg/mod'],
    ['darwin', { HOME: '/Users/runner' }, '/Users/runner/go/pkg/mod'],
    ['darwin', { GOPATH: '/Users/runner/Go Work:/opt/go' }, '/Users/runner/Go Work/pkg/mod'],
    ['win32', { USERPROFILE: 'C:\\Users\\runneradmin' }, 'C:\\Users\\runneradmin\\go\\pkg\\mod'],
    [
      'win32',
      { HOME: '/c/Users/git-bash', USERPROFILE: 'C:\\Users\\r' },
      'C:\\Users\\r\\go\\pkg\\mod',
    ],
    ['win32', { GOPATH: 'D:\\go;E:\\go' }, 'D:\\go\\pkg\\mod'],
    ['win32', { GOPATH: 'D:/a/go' }, 'D:\\a\\go\\pkg\\mod'],
    ['win32', { GOPATH: '"D:\\odd;name";E:\\go' }, 'D:\\odd;name\\pkg\\mod'],
    ['win32', { GoModCache: 'D:\\gomod', USERPROFILE: 'C:\\Users\\r' }, 'D:\\gomod'],
    ['win32', { Userprofile: 'C:\\Users\\r' }, 'C:\\Users\\r\\go\\pkg\\mod'],
  ] as const)('%s %j -> %s', (platform, env, expected) => {
    expect(locateModCacheWithoutGo({ ...env }, platform, '/fallback')).toBe(expected);
  });

  it('falls back to the given home directory when the platform home variable is unset or blank', () => {
    expect(locateModCacheWithoutGo({ HOME: '  ' }, 'linux', '/fallback')).toBe(
      '/fallback/go/pkg/mod',
    );
    expect(locateModCacheWithoutGo({ HOME: 'C:\\nope' }, 'win32', 'C:\\Users\\x')).toBe(
      'C:\\Users\\x\\go\\pkg\\mod',
    );
  });

  it('treats a blank GOMODCACHE or GOPATH as unset, as Go does', () => {
    expect(locateModCacheWithoutGo({ GOMODCACHE: ' ', GOPATH: '', HOME: '/h' }, 'linux')).toBe(
      '/h/go/pkg/mod',
    );
  });
});

describe('splitPathList and envValue', () => {
  it('splits on the platform separator, keeping empty entries like Go', () => {
    expect(splitPathList('/a:/b', 'linux')).toEqual(['/a', '/b']);
    expect(splitPathList('C:\\a;D:\\b', 'win32')).toEqual(['C:\\a', 'D:\\b']);
    // A colon is part of a drive letter on Windows, never a separator.
    expect(splitPathList('C:\\a', 'win32')).toEqual(['C:\\a']);
    expect(splitPathList(':/a', 'darwin')).toEqual(['', '/a']);
    expect(splitPathList('', 'win32')).toEqual([]);
  });

  it('reads variable names case-insensitively on win32 only', () => {
    expect(envValue({ Path: 'x' }, 'PATH', 'win32')).toBe('x');
    expect(envValue({ Path: 'x' }, 'PATH', 'linux')).toBeUndefined();
    expect(envValue({ Path: 'x' }, 'PATH', 'darwin')).toBeUndefined();
  });
});

describe('samePath', () => {
  it('linux: exact comparison after resolving', () => {
    expect(samePath('/home/r/go/pkg/mod/', '/home/r/go/pkg/../pkg/mod', 'linux')).toBe(true);
    expect(samePath('/home/R/go', '/home/r/go', 'linux')).toBe(false);
  });

  it('darwin: case-insensitive and normalization-insensitive', () => {
    expect(samePath('/Users/Runner/go/pkg/mod', '/users/runner/go/pkg/mod', 'darwin')).toBe(true);
    const nfc = '/Users/r/caf\u00e9';
    const nfd = '/Users/r/cafe\u0301';
    expect(samePath(nfc, nfd, 'darwin')).toBe(true);
    expect(samePath(nfc, nfd, 'linux')).toBe(false);
    expect(samePath('/Users/a', '/Users/b', 'darwin')).toBe(false);
  });

  it('win32: drive letters, separators and case do not matter', () => {
    expect(samePath('c:/Users/RunnerAdmin/go', 'C:\\users\\runneradmin\\go\\', 'win32')).toBe(true);
    expect(samePath('C:\\go', 'D:\\go', 'win32')).toBe(false);
  });
});

describe('case-insensitive file systems and read-only trees', () => {
  it('knows which platforms compare names without case', () => {
    expect(caseInsensitiveFs('win32')).toBe(true);
    expect(caseInsensitiveFs('darwin')).toBe(true);
    expect(caseInsensitiveFs('linux')).toBe(false);
  });

  it('makes directories writable on POSIX and files writable on win32 before removing', () => {
    for (const platform of ['linux', 'darwin'] as const) {
      expect(modeBeforeRemove('dir', platform)).toBe(0o755);
      expect(modeBeforeRemove('file', platform)).toBeUndefined();
    }
    expect(modeBeforeRemove('file', 'win32')! & 0o200).toBe(0o200);
    expect(modeBeforeRemove('dir', 'win32')).toBeUndefined();
  });
});
