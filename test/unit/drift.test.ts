import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  computeDrift,
  driftMarkdown,
  entryContentVersions,
  parseSemver,
  sumContentVersions,
} from '../../src/report/drift.js';

const h = 'h1:AAAA';

function sums(lines: string[]): Map<string, string> {
  return new Map(lines.map((l) => [l, h]));
}

describe('compareVersions', () => {
  const ordered = [
    'v0.0.0-20190101000000-aaaaaaaaaaaa',
    'v0.0.0-20200101000000-bbbbbbbbbbbb',
    'v0.1.0',
    'v1.0.0-alpha',
    'v1.0.0-alpha.1',
    'v1.0.0-alpha.beta',
    'v1.0.0-beta.2',
    'v1.0.0-beta.11',
    'v1.0.0-rc.1',
    'v1.0.0',
    'v1.2.4-0.20210101000000-cccccccccccc',
    'v1.2.4',
    'v1.10.0',
    'v2.0.0+incompatible',
    'v2.1.0+incompatible',
  ];
  it('orders releases, prereleases and pseudo-versions as Go does', () => {
    for (let i = 0; i < ordered.length; i++) {
      for (let j = 0; j < ordered.length; j++) {
        const want = Math.sign(i - j);
        expect(
          Math.sign(compareVersions(ordered[i]!, ordered[j]!)),
          `${ordered[i]} vs ${ordered[j]}`,
        ).toBe(want);
      }
    }
  });

  it('ignores build metadata and accepts Go shorthands', () => {
    expect(compareVersions('v2.0.0+incompatible', 'v2.0.0')).toBe(0);
    expect(compareVersions('v1', 'v1.0.0')).toBe(0);
    expect(compareVersions('v1.2', 'v1.2.0')).toBe(0);
  });

  it('puts invalid versions below valid ones', () => {
    expect(parseSemver('1.0.0')).toBeUndefined();
    expect(parseSemver('v1.02.0')).toBeUndefined();
    expect(parseSemver('v1.2-pre')).toBeUndefined();
    expect(compareVersions('latest', 'v0.0.1')).toBeLessThan(0);
  });
});

describe('computeDrift', () => {
  it('finds added, removed, upgraded and downgraded modules', () => {
    const entry = [
      { path: 'example.com/keep', version: 'v1.0.0' },
      { path: 'example.com/up', version: 'v1.2.0' },
      { path: 'example.com/down', version: 'v2.0.0+incompatible' },
      { path: 'example.com/pseudo', version: 'v0.0.0-20200101000000-aaaaaaaaaaaa' },
      { path: 'example.com/gone', version: 'v0.3.0' },
    ];
    const now = sums([
      'example.com/keep@v1.0.0',
      'example.com/keep@v1.0.0/go.mod',
      'example.com/up@v1.10.0',
      'example.com/up@v1.2.0/go.mod',
      'example.com/down@v1.9.0',
      'example.com/pseudo@v0.0.0-20210101000000-bbbbbbbbbbbb',
      'example.com/new@v0.1.0',
      'example.com/new@v0.1.0/go.mod',
    ]);
    const d = computeDrift(entry, now);
    expect(d.added).toEqual([{ path: 'example.com/new', version: 'v0.1.0' }]);
    expect(d.removed).toEqual([{ path: 'example.com/gone', version: 'v0.3.0' }]);
    expect(d.upgraded).toEqual([
      {
        path: 'example.com/pseudo',
        from: 'v0.0.0-20200101000000-aaaaaaaaaaaa',
        to: 'v0.0.0-20210101000000-bbbbbbbbbbbb',
      },
      { path: 'example.com/up', from: 'v1.2.0', to: 'v1.10.0' },
    ]);
    expect(d.downgraded).toEqual([
      { path: 'example.com/down', from: 'v2.0.0+incompatible', to: 'v1.9.0' },
    ]);
    expect(d.unchanged).toBe(1);
  });

  it('is empty when the entry holds exactly what go.sum needs', () => {
    const d = computeDrift(
      [{ path: 'a.io/x', version: 'v1.0.0' }],
      sums(['a.io/x@v1.0.0', 'a.io/x@v1.0.0/go.mod']),
    );
    expect(d).toEqual({ added: [], removed: [], upgraded: [], downgraded: [], unchanged: 1 });
    expect(driftMarkdown(d)).toBe('');
  });

  it('pairs several versions of one module highest with highest', () => {
    const d = computeDrift(
      [
        { path: 'a.io/x', version: 'v1.0.0' },
        { path: 'a.io/x', version: 'v1.1.0' },
      ],
      sums(['a.io/x@v1.1.0', 'a.io/x@v1.3.0', 'a.io/x@v1.4.0']),
    );
    expect(d.upgraded).toEqual([{ path: 'a.io/x', from: 'v1.0.0', to: 'v1.4.0' }]);
    expect(d.added).toEqual([{ path: 'a.io/x', version: 'v1.3.0' }]);
    expect(d.removed).toEqual([]);
  });

  it('never counts Go toolchain downloads as dependencies', () => {
    const d = computeDrift(
      [{ path: 'golang.org/toolchain', version: 'v0.0.1-go1.23.0.linux-amd64' }],
      sums([]),
    );
    expect(d.removed).toEqual([]);
  });
});

describe('entry and go.sum versions', () => {
  it('counts only versions whose content the entry holds', () => {
    expect(
      entryContentVersions([
        { path: 'a.io/x', version: 'v1.0.0', treeH1: h },
        { path: 'a.io/y', version: 'v1.0.0', ziphash: h },
        { path: 'a.io/z', version: 'v1.0.0' },
        { path: 'a.io/w', version: 'v1.0.0', hasZip: true },
      ]),
    ).toEqual([
      { path: 'a.io/x', version: 'v1.0.0' },
      { path: 'a.io/y', version: 'v1.0.0' },
      { path: 'a.io/w', version: 'v1.0.0' },
    ]);
  });

  it('reads content versions from go.sum keys, skipping /go.mod lines', () => {
    expect(sumContentVersions(sums(['a.io/x@v1.0.0', 'a.io/x@v0.9.0/go.mod']))).toEqual([
      { path: 'a.io/x', version: 'v1.0.0' },
    ]);
  });
});

describe('driftMarkdown', () => {
  const d = computeDrift(
    [
      { path: 'example.com/up', version: 'v1.0.0' },
      { path: 'example.com/gone', version: 'v1.0.0' },
      { path: 'example.com/down', version: 'v1.5.0' },
    ],
    sums(['example.com/up@v1.1.0', 'example.com/new@v0.2.0', 'example.com/down@v1.4.0']),
  );

  it('lists every change with old -> new and the bytes downloaded', () => {
    const md = driftMarkdown(d, { downloadedBytes: 3 * 1024 * 1024, fromKey: 'k;sum=old;gen=1' });
    expect(md).toContain('#### Dependency drift');
    expect(md).toContain('`k;sum=old;gen=1`');
    expect(md).toContain('1 added, 1 removed, 1 upgraded, 1 downgraded, 0 unchanged');
    expect(md).toContain('3.0 MiB downloaded');
    expect(md).toContain('| upgraded | `example.com/up` | v1.0.0 -> v1.1.0 |');
    expect(md).toContain('| downgraded | `example.com/down` | v1.5.0 -> v1.4.0 |');
    expect(md).toContain('| added | `example.com/new` | v0.2.0 |');
    expect(md).toContain('| removed | `example.com/gone` | v1.0.0 |');
  });

  it('caps long tables and says how many rows it left out', () => {
    const md = driftMarkdown(d, { maxRows: 2 });
    expect(md.match(/^\| (upgraded|downgraded|added|removed) /gm)).toHaveLength(2);
    expect(md).toContain('and 2 more changes');
  });
});
