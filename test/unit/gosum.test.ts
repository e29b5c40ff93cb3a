import { describe, expect, it } from 'vitest';
import {
  escapeModulePath,
  goModHash,
  isModulePath,
  isModuleVersion,
  parseGoSum,
  sumIndex,
  unescapeModulePath,
} from '../../src/go/gosum.js';
import { hash1 } from '../../src/verify/dirhash.js';

describe('parseGoSum', () => {
  it('parses zip and go.mod lines', () => {
    const sum = parseGoSum(
      'github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n' +
        'github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\r\n\n',
    );
    expect(sum.malformed).toEqual([]);
    expect(sum.lines).toEqual([
      {
        path: 'github.com/google/uuid',
        version: 'v1.6.0',
        goMod: false,
        hash: 'h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=',
      },
      {
        path: 'github.com/google/uuid',
        version: 'v1.6.0',
        goMod: true,
        hash: 'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=',
      },
    ]);
  });

  it('reports malformed lines with their numbers', () => {
    const sum = parseGoSum('a v1 h1:x=\nbroken line\nb v1 nohash\n');
    expect(sum.malformed.map((m) => m.line)).toEqual([2, 3]);
  });

  it('indexes h1 hashes by module and version', () => {
    const idx = sumIndex([
      parseGoSum('a v1.0.0 h1:z=\na v1.0.0/go.mod h1:m=\nb v2.0.0+incompatible/go.mod h1:i=\n'),
    ]);
    expect(idx.get('a@v1.0.0')).toBe('h1:z=');
    expect(idx.get('a@v1.0.0/go.mod')).toBe('h1:m=');
    expect(idx.get('b@v2.0.0+incompatible/go.mod')).toBe('h1:i=');
  });
});

describe('module path escaping', () => {
  it('escapes upper-case letters as ! plus lower case, and back', () => {
    expect(escapeModulePath('github.com/BurntSushi/toml')).toBe('github.com/!burnt!sushi/toml');
    expect(unescapeModulePath('github.com/!burnt!sushi/toml')).toBe('github.com/BurntSushi/toml');
  });

  it('knows the module paths and versions Go can put in its cache', () => {
    for (const p of [
      'github.com/BurntSushi/toml',
      'gopkg.in/yaml.v3',
      'golang.org/toolchain',
      'a/b_c~d-e',
    ])
      expect(isModulePath(p), p).toBe(true);
    for (const p of [
      'example.com/a@v1.0.0/x',
      'example.com/../x',
      'example.com/./x',
      'example.com//x',
      '/x',
      'x/',
      'a+b',
      'a b',
      '...',
      '',
    ])
      expect(isModulePath(p), p).toBe(false);
    for (const v of [
      'v1.2.3',
      'v2.0.0+incompatible',
      'v0.0.0-20240101000000-abcdef123456',
      'v0.0.1-go1.26.0.linux-amd64',
    ])
      expect(isModuleVersion(v), v).toBe(true);
    for (const v of ['1.2.3', 'v1@v2', 'v1/x', 'v', '']) expect(isModuleVersion(v), v).toBe(false);
  });
});

describe('hashes', () => {
  it('goModHash matches the go.sum line Go wrote for the real google/uuid v1.6.0 go.mod', () => {
    // go.mod of github.com/google/uuid v1.6.0, byte for byte.
    expect(goModHash('module github.com/google/uuid\n')).toBe(
      'h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=',
    );
  });

  it('hash1 is order-independent and name-sensitive, and rejects newlines in names', () => {
    const f = [
      { name: 'm@v1/a.go', sha256hex: '00' },
      { name: 'm@v1/b.go', sha256hex: '11' },
    ];
    expect(hash1(f)).toBe(hash1([...f].reverse()));
    expect(hash1(f)).not.toBe(hash1([{ ...f[0]!, name: 'm@v1/c.go' }, f[1]!]));
    expect(() => hash1([{ name: 'a\nb', sha256hex: '00' }])).toThrow(/newline/);
  });
});
