import { describe, expect, it } from 'vitest';
import { parseModDirectives } from '../../src/go/requires.js';

describe('parseModDirectives', () => {
  it('reads requirements in blocks and single lines, with lines and // indirect', () => {
    const text = [
      'module example.com/app', // 1
      '', // 2
      'go 1.21', // 3
      '', // 4
      'require example.com/single v1.0.0', // 5
      '', // 6
      'require (', // 7
      '\texample.com/a v1.2.3', // 8
      '\texample.com/b v0.1.0 // indirect', // 9
      '\t"example.com/quoted" v2.0.0+incompatible // indirect; for a test', // 10
      '\texample.com/c v1.0.0 // not indirect', // 11
      ')', // 12
      'require example.com/d v1.0.0 // indirect', // 13
    ].join('\n');
    expect(parseModDirectives(text).requires).toEqual([
      { path: 'example.com/single', version: 'v1.0.0', indirect: false, line: 5 },
      { path: 'example.com/a', version: 'v1.2.3', indirect: false, line: 8 },
      { path: 'example.com/b', version: 'v0.1.0', indirect: true, line: 9 },
      { path: 'example.com/quoted', version: 'v2.0.0+incompatible', indirect: true, line: 10 },
      { path: 'example.com/c', version: 'v1.0.0', indirect: false, line: 11 },
      { path: 'example.com/d', version: 'v1.0.0', indirect: true, line: 13 },
    ]);
  });

  it('reads replacements of a path, of one version, by a module or a directory', () => {
    const text = [
      'module example.com/app',
      'replace example.com/x => ../x',
      'replace (',
      '\texample.com/y v1.0.0 => example.com/fork/y v1.0.1',
      '\texample.com/z => example.com/fork/z v0.3.0 // pinned',
      ')',
      'exclude example.com/w v1.0.0',
    ].join('\n');
    expect(parseModDirectives(text).replaces).toEqual([
      { from: 'example.com/x', to: '../x', line: 2 },
      {
        from: 'example.com/y',
        fromVersion: 'v1.0.0',
        to: 'example.com/fork/y',
        toVersion: 'v1.0.1',
        line: 4,
      },
      { from: 'example.com/z', to: 'example.com/fork/z', toVersion: 'v0.3.0', line: 5 },
    ]);
    expect(parseModDirectives(text).requires).toEqual([]);
  });
});
