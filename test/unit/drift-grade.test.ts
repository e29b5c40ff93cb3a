import { describe, expect, it } from 'vitest';
import {
  baselineFromEntry,
  baselineFromSums,
  sumSitesOf,
  sumsOf,
  type Baseline,
  type Current,
} from '../../src/report/drift-baseline.js';
import {
  changesAtOrAbove,
  driftLevel,
  gradeDrift,
  reachesThreshold,
} from '../../src/report/drift-grade.js';
import {
  annotationText,
  driftTableMarkdown,
  failureMessage,
  type DriftCheck,
} from '../../src/report/drift-alert.js';

const H = (s: string): string => `h1:${s}=`;

/** go.sum lines from `path version hash` triples (content and go.mod lines). */
function sums(rows: [string, string, string?][]): Map<string, string> {
  const m = new Map<string, string>();
  for (const [p, v, h] of rows) {
    m.set(`${p}@${v}`, h ?? H(`${p}${v}`));
    m.set(`${p}@${v}/go.mod`, H(`mod${p}${v}`));
  }
  return m;
}

function base(rows: [string, string, string?][], replaces?: Baseline['replaces']): Baseline {
  return baselineFromSums('base/go.sum', sums(rows), replaces);
}

function now(
  rows: [string, string, string?][],
  o: { direct?: string[]; indirect?: string[]; replaces?: Current['replaces'] } = {},
): Current {
  const requires: Current['requires'] = [];
  let line = 5;
  for (const p of o.direct ?? [])
    requires.push({ path: p, version: '', indirect: false, line: line++, file: 'go.mod' });
  for (const p of o.indirect ?? [])
    requires.push({ path: p, version: '', indirect: true, line: line++, file: 'go.mod' });
  return { sums: sums(rows), requires, replaces: o.replaces ?? [] };
}

/** The one change of a comparison, as grade/kind. */
function only(b: Baseline, c: Current): string {
  const changes = gradeDrift(b, c);
  expect(changes, JSON.stringify(changes)).toHaveLength(1);
  return `${changes[0]!.grade}/${changes[0]!.kind}`;
}

const A = 'example.com/a';

describe('gradeDrift: one rule at a time', () => {
  it.each([
    ['v1.2.3', 'v2.0.0', 'critical/major'],
    ['v0.9.0', 'v1.0.0', 'critical/major'],
    ['v1.9.0', 'v2.0.0+incompatible', 'critical/major'],
    ['v2.0.0+incompatible', 'v3.0.0+incompatible', 'critical/major'],
    ['v1.2.3', 'v1.2.2', 'critical/downgrade'],
    ['v1.2.4', 'v1.2.4-0.20210101000000-cccccccccccc', 'critical/downgrade'],
    ['v1.2.3', 'v1.3.0', 'warning/minor'],
    ['v2.0.0+incompatible', 'v2.1.0+incompatible', 'warning/minor'],
    ['v1.2.3', 'v1.2.4-0.20210101000000-cccccccccccc', 'warning/pseudo'],
    ['v0.0.0-20200101000000-aaaaaaaaaaaa', 'v0.0.0-20210101000000-bbbbbbbbbbbb', 'warning/pseudo'],
    ['v1.2.3', 'v1.2.4', 'info/patch'],
    ['v1.2.4-0.20210101000000-cccccccccccc', 'v1.2.4', 'info/patch'],
    ['v0.0.0-20200101000000-aaaaaaaaaaaa', 'v0.1.0', 'warning/minor'],
    ['v1.0.0-rc.1', 'v1.0.0', 'info/patch'],
  ])('%s -> %s is %s', (from, to, want) => {
    expect(only(base([[A, from]]), now([[A, to]], { direct: [A] }))).toBe(want);
  });

  it('grades a move to a major-suffix path as a new major, and folds the old path in', () => {
    const changes = gradeDrift(
      base([['example.com/m', 'v1.4.0']]),
      now([['example.com/m/v2', 'v2.0.1']], { direct: ['example.com/m/v2'] }),
    );
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({
      grade: 'critical',
      kind: 'major',
      path: 'example.com/m/v2',
      from: 'example.com/m@v1.4.0',
      to: 'example.com/m/v2@v2.0.1',
      site: { file: 'go.mod', line: 5 },
    });
  });

  it('grades a new major path beside the old one as a new major too', () => {
    const changes = gradeDrift(
      base([['example.com/m', 'v1.4.0']]),
      now(
        [
          ['example.com/m', 'v1.4.0'],
          ['example.com/m/v3', 'v3.0.0'],
        ],
        { direct: ['example.com/m', 'example.com/m/v3'] },
      ),
    );
    expect(changes.map((c) => `${c.grade}/${c.kind}/${c.path}`)).toEqual([
      'critical/major/example.com/m/v3',
    ]);
  });

  it('grades a move back to a lower major path as a downgrade', () => {
    expect(only(base([['example.com/m/v2', 'v2.0.1']]), now([['example.com/m', 'v1.9.0']]))).toBe(
      'critical/downgrade',
    );
  });

  it('grades gopkg.in majors like path suffixes', () => {
    expect(
      only(base([['gopkg.in/yaml.v2', 'v2.4.0']]), now([['gopkg.in/yaml.v3', 'v3.0.1']])),
    ).toBe('critical/major');
  });

  it('grades the same version with another checksum as critical, content or go.mod', () => {
    const b = base([[A, 'v1.0.0', H('old')]]);
    const c = now([[A, 'v1.0.0', H('new')]], { direct: [A] });
    expect(only(b, c)).toBe('critical/checksum');
    const changes = gradeDrift(b, c);
    expect(changes[0]!.why).toContain('h1:old=');
    expect(changes[0]!.why).toContain('h1:new=');
    const modOnly = new Map(c.sums);
    modOnly.set(`${A}@v1.0.0`, H('old'));
    modOnly.set(`${A}@v1.0.0/go.mod`, H('edited'));
    expect(gradeDrift(b, { ...c, sums: modOnly }).map((x) => x.why)).toEqual([
      expect.stringContaining('go.mod checksum'),
    ]);
  });

  it('grades new dependencies by go.mod: direct is a warning, indirect is info', () => {
    const b = base([[A, 'v1.0.0']]);
    const c = now(
      [
        [A, 'v1.0.0'],
        ['example.com/direct', 'v0.1.0'],
        ['example.com/indirect', 'v0.1.0'],
        ['example.com/unnamed', 'v0.1.0'],
      ],
      { direct: [A, 'example.com/direct'], indirect: ['example.com/indirect'] },
    );
    expect(gradeDrift(b, c).map((x) => `${x.grade}/${x.kind}/${x.path}`)).toEqual([
      'warning/new-direct/example.com/direct',
      'info/new-indirect/example.com/indirect',
      'info/new-indirect/example.com/unnamed',
    ]);
  });

  it('grades a removed dependency as info', () => {
    expect(
      only(
        base([
          [A, 'v1.0.0'],
          ['example.com/gone', 'v1.0.0'],
        ]),
        now([[A, 'v1.0.0']]),
      ),
    ).toBe('info/removed');
  });

  it('grades replace directives added, removed and retargeted as critical', () => {
    const rule = { from: A, to: 'example.com/fork', toVersion: 'v1.0.1' };
    const at = { file: 'go.mod', line: 9 };
    const plain = [[A, 'v1.0.0']] as [string, string][];
    const forked = [['example.com/fork', 'v1.0.1']] as [string, string][];
    expect(only(base(plain, []), now(forked, { replaces: [{ ...rule, ...at }] }))).toBe(
      'critical/replace-added',
    );
    expect(only(base(forked, [rule]), now(plain, { direct: [A] }))).toBe(
      'critical/replace-removed',
    );
    expect(
      only(
        base(forked, [rule]),
        now([['example.com/fork', 'v1.0.1']], {
          replaces: [{ from: A, to: '../local', ...at }],
        }),
      ),
    ).toBe('critical/replace-changed');
    expect(
      gradeDrift(base(forked, [rule]), now(forked, { replaces: [{ ...rule, ...at }] })),
    ).toEqual([]);
  });

  it('recognises an added replace against an entry baseline, which knows no go.mod', () => {
    const entry = baselineFromEntry('k', [{ path: A, version: 'v1.0.0', treeH1: H('a') }]);
    const changes = gradeDrift(
      entry,
      now([['example.com/fork', 'v1.0.1']], {
        replaces: [
          { from: A, to: 'example.com/fork', toVersion: 'v1.0.1', file: 'go.mod', line: 7 },
        ],
      }),
    );
    expect(changes.map((c) => `${c.kind}:${c.site?.line}`)).toEqual(['replace-added:7']);
  });

  it('finds no drift between a baseline and itself', () => {
    const rows: [string, string][] = [
      [A, 'v1.0.0'],
      ['example.com/legacy', 'v2.0.0+incompatible'],
    ];
    expect(gradeDrift(base(rows), now(rows))).toEqual([]);
    expect(driftLevel([])).toBe('none');
  });
});

describe('baselines', () => {
  it('takes an entry checksum only when its tree, zip and .ziphash agree', () => {
    const b = baselineFromEntry('k', [
      { path: 'a.io/ok', version: 'v1.0.0', treeH1: H('x'), ziphash: H('x'), modH1: H('m') },
      { path: 'a.io/torn', version: 'v1.0.0', treeH1: H('x'), ziphash: H('y') },
      { path: 'a.io/unhashable', version: 'v1.0.0', treeH1: '(unhashable: symlink)' },
      { path: 'a.io/modonly', version: 'v1.0.0', modH1: H('m') },
      { path: 'golang.org/toolchain', version: 'v0.0.1-go1.23.0.linux-amd64', ziphash: H('t') },
    ]);
    expect(b.modules).toEqual([
      { path: 'a.io/ok', version: 'v1.0.0', content: true, h1: H('x'), modH1: H('m') },
      { path: 'a.io/torn', version: 'v1.0.0', content: true },
      { path: 'a.io/unhashable', version: 'v1.0.0', content: true },
      { path: 'a.io/modonly', version: 'v1.0.0', content: false, modH1: H('m') },
    ]);
    // A torn entry is damage, not drift: no checksum change against it.
    expect(gradeDrift(b, { sums: sumsOf(b.modules), requires: [], replaces: [] })).toEqual([]);
    const changed = sumsOf(b.modules);
    changed.set('a.io/torn@v1.0.0', H('z'));
    expect(gradeDrift(b, { sums: changed, requires: [], replaces: [] })).toEqual([]);
  });

  it('names go.sum lines by their line number', () => {
    const sites = sumSitesOf('go.sum', 'a.io/x v1.0.0 h1:a=\na.io/x v1.0.0/go.mod h1:b=\n');
    expect(sites.get('a.io/x@v1.0.0')).toEqual({ file: 'go.sum', line: 1 });
    expect(sites.get('a.io/x@v1.0.0/go.mod')).toEqual({ file: 'go.sum', line: 2 });
  });
});

describe('levels and thresholds', () => {
  const changes = gradeDrift(
    base([
      [A, 'v1.0.0'],
      ['example.com/b', 'v1.0.0'],
    ]),
    now(
      [
        [A, 'v1.0.1'],
        ['example.com/b', 'v1.1.0'],
      ],
      { direct: [A, 'example.com/b'] },
    ),
  );

  it('sorts worst first and takes the worst as the level', () => {
    expect(changes.map((c) => c.grade)).toEqual(['warning', 'info']);
    expect(driftLevel(changes)).toBe('warning');
  });

  it.each([
    ['critical', 'critical', true],
    ['critical', 'warning', true],
    ['critical', 'never', false],
    ['warning', 'critical', false],
    ['warning', 'warning', true],
    ['info', 'warning', false],
    ['none', 'warning', false],
  ] as const)('level %s with fail-on-drift %s fails: %s', (level, failOn, want) => {
    expect(reachesThreshold(level, failOn)).toBe(want);
  });

  it('names the changes that reach the threshold and how to accept them', () => {
    const check: DriftCheck = {
      source: 'default-branch',
      baseline: 'vgc-v1;linux-x64;env=pr;ref=main;sum=abc;gen=1',
      changes,
      level: driftLevel(changes),
    };
    expect(changesAtOrAbove(changes, 'warning').map((c) => c.path)).toEqual(['example.com/b']);
    expect(failureMessage([check], 'critical')).toBeUndefined();
    const msg = failureMessage([check], 'warning')!;
    expect(msg).toContain("fail-on-drift 'warning'");
    expect(msg).toContain('example.com/b v1.0.0 -> v1.1.0 (warning: a minor upgrade)');
    expect(msg).not.toContain('example.com/a');
    expect(msg).toContain('accept them by merging');
    expect(annotationText(changes[0]!, check)).toBe(
      `Dependency drift (warning) against ${check.baseline}: example.com/b v1.0.0 -> v1.1.0: a minor upgrade.`,
    );
    const md = driftTableMarkdown([check], 'warning');
    expect(md).toContain('🟠 **warning**');
    expect(md).toContain('0 critical, 1 warning, 1 info');
    const rows = md.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| Grade'));
    expect(rows).toEqual([
      '| 🟠 warning | `example.com/b` | v1.0.0 | v1.1.0 | a minor upgrade |',
      '| 🔵 info | `example.com/a` | v1.0.0 | v1.0.1 | a patch upgrade |',
    ]);
  });
});
