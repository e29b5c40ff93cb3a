import { describe, expect, it } from 'vitest';
import {
  describeListFailure,
  exactKeyOf,
  fromRaw,
  generationOf,
  inventoryFromEnv,
  planDeletions,
  type CacheEntryInfo,
} from '../../src/cache/inventory.js';
import { computeDrift } from '../../src/report/drift.js';
import {
  formatAge,
  healthJson,
  healthMarkdown,
  overallHealthy,
  parseKeyParts,
  type EnvironmentReport,
  type HealthReport,
} from '../../src/report/health.js';

const SCOPE = 'vgc-v1;linux-x64;env=prod;ref=main;';
const CUR = `${SCOPE}sum=cccc`;
const OLD = `${SCOPE}sum=aaaa`;

function entry(id: number, key: string, minute: number, size = 1000): CacheEntryInfo {
  const t = new Date(Date.UTC(2026, 0, 1, 0, minute)).toISOString();
  return {
    id,
    key,
    ref: 'refs/heads/main',
    version: 'v',
    sizeBytes: size,
    createdAt: t,
    lastAccessedAt: t,
  };
}

describe('planDeletions', () => {
  const entries = [
    entry(1, `${OLD};gen=1`, 1),
    entry(2, `${CUR};gen=2`, 2),
    entry(3, `${CUR};gen=3`, 3),
    entry(4, `${CUR};gen=4`, 4),
    entry(5, 'vgc-v1;linux-x64;env=prod;ref=feature;sum=cccc;gen=9', 0),
    entry(6, 'vgc-v1;linux-x64;env=prod-eu;ref=main;sum=cccc;gen=1', 0),
  ];

  it('deletes older generations and older go.sums before the verified entry, nothing after it', () => {
    const plan = planDeletions({
      entries,
      scopePrefix: SCOPE,
      verifiedKey: `${CUR};gen=3`,
      corruptKeys: [],
    });
    expect(plan).toEqual([
      { id: 1, key: `${OLD};gen=1`, why: 'older go.sum' },
      { id: 2, key: `${CUR};gen=2`, why: 'older generation' },
    ]);
  });

  it('deletes only corrupt entries when nothing was verified', () => {
    const plan = planDeletions({ entries, scopePrefix: SCOPE, corruptKeys: [`${CUR};gen=4`] });
    expect(plan).toEqual([{ id: 4, key: `${CUR};gen=4`, why: 'corrupt' }]);
  });

  it('never leaves the scope: other branches and environments with a shared prefix are kept', () => {
    const plan = planDeletions({
      entries,
      scopePrefix: SCOPE,
      verifiedKey: `${CUR};gen=4`,
      corruptKeys: [],
    });
    expect(plan.map((p) => p.id)).toEqual([1, 2, 3]);
  });

  it('uses the save time of an entry the list does not show yet, and keeps everything when unknown', () => {
    const saved = `${CUR};gen=new`;
    const at = new Date(Date.UTC(2026, 0, 1, 0, 3, 30)).toISOString();
    const plan = planDeletions({
      entries,
      scopePrefix: SCOPE,
      verifiedKey: saved,
      verifiedSavedAt: at,
      corruptKeys: [`${CUR};gen=3`],
    });
    expect(plan.map((p) => [p.id, p.why])).toEqual([
      [1, 'older go.sum'],
      [2, 'older generation'],
      [3, 'corrupt'],
    ]);
    const blind = planDeletions({
      entries,
      scopePrefix: SCOPE,
      verifiedKey: saved,
      corruptKeys: [],
    });
    expect(blind).toEqual([]);
  });
});

describe('keys and raw entries', () => {
  it('splits off the opaque generation', () => {
    expect(generationOf(`${CUR};gen=17.2.abc`)).toBe('17.2.abc');
    expect(exactKeyOf(`${CUR};gen=17.2.abc`)).toBe(CUR);
    expect(generationOf(CUR)).toBe('');
    expect(parseKeyParts(`${CUR};gen=x;y`)).toEqual({
      platform: 'linux-x64',
      env: 'prod',
      ref: 'main',
      sum: 'cccc',
      gen: 'x;y',
    });
  });

  it('maps the REST fields', () => {
    expect(
      fromRaw({
        id: 7,
        key: 'k',
        ref: 'refs/heads/main',
        version: 'v',
        size_in_bytes: 5,
        created_at: '2026-01-01T00:00:00Z',
        last_accessed_at: '2026-01-02T00:00:00Z',
      }),
    ).toEqual({
      id: 7,
      key: 'k',
      ref: 'refs/heads/main',
      version: 'v',
      sizeBytes: 5,
      createdAt: '2026-01-01T00:00:00Z',
      lastAccessedAt: '2026-01-02T00:00:00Z',
    });
  });

  it('explains list failures by status, naming the permission', () => {
    expect(describeListFailure({ status: 403, message: 'x' })).toContain(
      "'permissions: actions: read'",
    );
    expect(describeListFailure({ status: 404, message: 'x' })).toContain('404');
    expect(describeListFailure(new Error('connect ECONNREFUSED'))).toContain('ECONNREFUSED');
  });
});

describe('inventoryFromEnv', () => {
  it('says what is missing instead of calling GitHub without a token or a repository', () => {
    expect(inventoryFromEnv('', { GITHUB_REPOSITORY: 'o/r' })).toEqual({
      unavailable: expect.stringContaining('github-token: ${{ github.token }}'),
    });
    expect(inventoryFromEnv('${{ github.token }}', { GITHUB_REPOSITORY: 'o/r' })).toHaveProperty(
      'unavailable',
    );
    expect(inventoryFromEnv('t', {})).toEqual({ unavailable: 'GITHUB_REPOSITORY is not set' });
    expect(inventoryFromEnv('t', { GITHUB_REPOSITORY: 'o/r' })).toHaveProperty('list');
  });
});

describe('formatAge', () => {
  it('uses the largest readable unit', () => {
    expect(formatAge(45_000)).toBe('45 s');
    expect(formatAge(12 * 60_000)).toBe('12 min');
    expect(formatAge(5 * 3_600_000 + 1)).toBe('5 h');
    expect(formatAge(3 * 86_400_000)).toBe('3 d');
  });
});

function env(over: Partial<EnvironmentReport>): EnvironmentReport {
  return {
    environment: 'prod',
    status: 'healthy',
    exactKey: CUR,
    matchedKey: `${CUR};gen=3`,
    hit: 'exact',
    archiveBytes: 2048,
    moduleCount: 12,
    unneeded: [],
    missing: [],
    bad: [],
    verification: 'passed (12 versions match go.sum)',
    deleted: [],
    ms: 1500,
    createdAt: '2026-01-01T00:00:00Z',
    ...over,
  };
}

describe('healthMarkdown', () => {
  const now = Date.parse('2026-01-01T02:00:00Z');
  const corrupt = env({
    environment: 'ci|test',
    status: 'repaired',
    matchedKey: `${OLD};gen=1`,
    hit: 'lineage',
    unneeded: ['example.com/old@v1.0.0'],
    bad: [
      { module: 'example.com/m@v1.0.0', reason: 'extracted files hash to h1:x, go.sum says h1:y' },
    ],
    verification: 'FAILED: 1 problem',
    repair: 'repaired 1 module version',
    savedKey: `${CUR};gen=5`,
    savedBytes: 4096,
    deleted: [{ id: 1, key: `${OLD};gen=1`, why: 'corrupt' }],
    drift: computeDrift(
      [{ path: 'example.com/up', version: 'v1.0.0' }],
      new Map([['example.com/up@v1.2.0', 'h1:x']]),
    ),
    downloadedBytes: 1024,
  });
  const report: HealthReport = {
    generatedAt: '2026-01-01T02:00:00Z',
    healthy: false,
    branch: 'main',
    environments: [env({}), corrupt],
    inventory: {
      keyPrefix: 'vgc-v1;',
      entries: [
        { ...entry(1, `${OLD};gen=1`, 0, 3000), deleted: 'corrupt' },
        entry(3, `${CUR};gen=3`, 30, 2000),
        { ...entry(5, `${CUR};gen=5`, 60, 4000), savedByThisRun: true },
      ],
      usage: { activeBytes: 5 * 1024 ** 3, activeCount: 40 },
    },
  };
  const md = healthMarkdown(report, now);

  it('opens with the verdict and one row per environment', () => {
    expect(md).toContain('### verified-go-cache health: ❌ unhealthy (1 of 2 environments)');
    expect(md).toContain(
      '| ✅ healthy | prod | `vgc-v1;linux-x64;env=prod;ref=main;sum=cccc;gen=3` | 2 h | 2.0 KiB | 12 | 0 | ' +
        'passed (12 versions match go.sum) | - | 1.5 s |',
    );
    const row = md.split('\n').find((l) => l.startsWith('| 🛠️ repaired'))!;
    expect(row).toContain('ci\\|test');
    expect(row).toContain('(other go.sum)');
    expect(row).toContain('FAILED: 1 problem: `example.com/m@v1.0.0`');
    expect(row).toContain(
      'repaired 1 module version; saved `vgc-v1;linux-x64;env=prod;ref=main;sum=cccc;gen=5` (4.0 KiB)',
    );
    expect(row).toContain('deleted 1 (corrupt)');
    expect(row).toMatch(/\| 1 \| FAILED/);
  });

  it('lists every bad module with why, and the drift with bytes downloaded', () => {
    expect(md).toContain(
      '| ci\\|test | `example.com/m@v1.0.0` | extracted files hash to h1:x, go.sum says h1:y |',
    );
    expect(md).toContain('#### Dependency drift: ci\\|test');
    expect(md).toContain('| upgraded | `example.com/up` | v1.0.0 -> v1.2.0 |');
    expect(md).toContain('1.0 KiB downloaded');
  });

  it('ends with the inventory against the quota', () => {
    expect(md).toContain(
      "Repository total: 5.00 GiB in 40 entries, 50.0% of 10.00 GiB (GitHub's default limit).",
    );
    expect(md).toContain("This action's entries: 2, 5.9 KiB (after deleting 1).");
    expect(md).toContain(
      '| prod | main | `aaaa` | `1` | 2.9 KiB | 2 h | 2 h | deleted (corrupt) |',
    );
    expect(md).toContain(
      '| prod | main | `cccc` | `5` | 3.9 KiB | 1 h | 1 h | saved by this run |',
    );
    expect(md.indexOf('#### Cache inventory')).toBeGreaterThan(md.indexOf('#### Bad modules'));
  });

  it('says why the inventory is missing', () => {
    const bare = healthMarkdown(
      { ...report, inventory: undefined, inventoryNote: 'No inventory: 403' },
      now,
    );
    expect(bare).toContain('> No inventory: 403');
  });

  it('a healthy run says so', () => {
    const ok = healthMarkdown({ ...report, healthy: true, environments: [env({})] }, now);
    expect(ok).toContain('### verified-go-cache health: ✅ healthy (1 environment)');
  });
});

describe('health verdict and JSON', () => {
  it('is healthy only when every environment is', () => {
    expect(overallHealthy([env({}), env({ status: 'healthy' })])).toBe(true);
    expect(overallHealthy([env({}), env({ status: 'repaired' })])).toBe(false);
    expect(overallHealthy([env({}), env({ status: 'stale' })])).toBe(false);
    expect(overallHealthy([])).toBe(false);
  });

  it('the JSON carries the same data plus a healthy flag per environment', () => {
    const r: HealthReport = {
      generatedAt: '2026-01-01T00:00:00Z',
      healthy: false,
      branch: 'main',
      environments: [env({ status: 'corrupt', bad: [{ module: 'a@v1', reason: 'r' }] })],
    };
    const parsed = JSON.parse(healthJson(r)) as {
      healthy: boolean;
      environments: { healthy: boolean; status: string; bad: unknown[] }[];
    };
    expect(parsed.healthy).toBe(false);
    expect(parsed.environments[0]).toMatchObject({
      healthy: false,
      status: 'corrupt',
      bad: [{ module: 'a@v1', reason: 'r' }],
    });
  });
});
