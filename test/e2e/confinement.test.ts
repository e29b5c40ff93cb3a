/**
 * A restore cannot write outside the module cache. Entries planted the way a
 * workflow with write access to the repository's cache could plant them
 * (raw archives under this action's key prefix, newest in the lineage) hold,
 * after harmless members, an absolute name, a `..` escape (plain, or hidden in
 * a pax `path` record, a GNU long-name header or the ustar prefix field while
 * the ustar name looks harmless), a symlink (its target plain or in a pax
 * `linkpath`), a hard link, a character or block device, a FIFO, or a typeflag
 * only GNU tar knows (sparse, dumpdir). Each is rejected with a warning naming
 * the entry, the first offending member and why; nothing is written anywhere
 * in the test root outside the module cache, nothing of the entry is kept in
 * it, and the job goes on green as a miss that downloads and saves a good
 * entry: with pre restoring, and with main restoring alone (`uses: ./`).
 *
 * A module's zip, from which the restore writes its tree, is checked name by
 * name the same way: a zip whose names climb out writes nothing outside its
 * module, and that module is reported and repaired; a zip whose download path
 * names a tree inside another module's tree is never unpacked.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryVersion } from '../../src/cache/service/index.js';
import {
  effectiveLink,
  effectiveName,
  tarBuffer,
  zstdTar,
  type TarMember,
} from './harness/plant-tar.js';
import { World } from './harness/world.js';
import { zipBuffer } from './harness/zip.js';

let world: World;
let prefix: string;
/** What a job with no planted entry restores nothing of, downloads and saves. */
let probeModules: string[];
let probeModuleCount: string;
/** Symlinks, FIFOs, devices and sockets in the test root before any entry was planted. */
let specialBaseline: string[];

/** Everything under dir that is neither a regular file nor a directory. */
function specialFiles(dir: string): string[] {
  return execFileSync('find', [dir, '!', '-type', 'f', '!', '-type', 'd'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '')
    .sort();
}

/** Paths under dir (find's -name patterns, any of them). */
function findNamed(dir: string, patterns: string[]): string[] {
  const args = patterns.flatMap((p, i) => (i === 0 ? ['-name', p] : ['-o', '-name', p]));
  return execFileSync('find', [dir, '(', ...args, ')', '-print'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l !== '');
}

beforeAll(async () => {
  world = await World.create({ modules: 4 });
  const probe = await world.job({ inputs: { environment: 'probe' } });
  expect(probe.succeeded, probe.log).toBe(true);
  prefix = probe.outputs['cache-key']!.replace(/;env=probe;.*$/, '');
  const probeSaved = world.entriesOf('probe');
  expect(probeSaved).toHaveLength(1);
  probeModules = world.entryModules(probeSaved[0]!);
  probeModuleCount = probe.outputs['module-count']!;
  expect(probeModules.length).toBeGreaterThan(0);
  specialBaseline = specialFiles(world.root);
});

afterAll(async () => {
  await world?.dispose();
});

/** Where one planted case may aim: a folder outside every runner, with a file to aim links at. */
interface Target {
  /** Absolute folder holding only `victim`. */
  outside: string;
  /** Unique to the case: every file the entry tries to write outside is named `pwned-<id>...`. */
  id: string;
}

interface PlantCase {
  label: string;
  /** The first member the extractor must refuse. */
  offending: (t: Target) => TarMember;
  /** Members after it, such as one writing through a link it would have made. */
  then?: (t: Target) => TarMember[];
}

const EVIL_TREE = './example.com/evil@v1.0.0';
const OWNED = 'owned\n';

const CASES: PlantCase[] = [
  {
    label: 'an absolute name',
    offending: (t) => ({ name: `${t.outside}/pwned-${t.id}`, data: OWNED }),
  },
  {
    label: 'a leading .. escape',
    offending: (t) => ({ name: `./../../../pwned-${t.id}`, data: OWNED }),
  },
  {
    label: 'a .. escape after a module tree prefix',
    offending: (t) => ({ name: `${EVIL_TREE}/../../../../pwned-${t.id}`, data: OWNED }),
  },
  {
    label: 'a symbolic link',
    offending: (t) => ({ name: `${EVIL_TREE}/link-${t.id}`, type: '2', linkname: t.outside }),
    then: (t) => [{ name: `${EVIL_TREE}/link-${t.id}/pwned-${t.id}`, data: OWNED }],
  },
  {
    label: 'a hard link',
    offending: (t) => ({
      name: `${EVIL_TREE}/hard-${t.id}`,
      type: '1',
      linkname: `${t.outside}/victim`,
    }),
  },
  {
    label: 'a character device',
    offending: (t) => ({ name: `${EVIL_TREE}/cdev-${t.id}`, type: '3' }),
  },
  { label: 'a block device', offending: (t) => ({ name: `${EVIL_TREE}/bdev-${t.id}`, type: '4' }) },
  { label: 'a FIFO', offending: (t) => ({ name: `${EVIL_TREE}/fifo-${t.id}`, type: '6' }) },
  {
    label: "a GNU sparse file (typeflag 'S')",
    offending: (t) => ({ name: `${EVIL_TREE}/sparse-${t.id}`, type: 'S', data: OWNED }),
  },
  {
    label: "a GNU dumpdir (typeflag 'D')",
    offending: (t) => ({
      name: `${EVIL_TREE}/dumpdir-${t.id}`,
      type: 'D',
      data: `Ypwned-${t.id}\0\0`,
    }),
  },
  {
    label: 'a pax path record climbing out behind a harmless ustar name',
    offending: (t) => ({
      name: `${EVIL_TREE}/harmless-${t.id}.go`,
      pax: { path: `../../../pwned-${t.id}` },
      data: OWNED,
    }),
  },
  {
    label: 'a pax path record naming an absolute path behind a harmless ustar name',
    offending: (t) => ({
      name: `${EVIL_TREE}/harmless-${t.id}.go`,
      pax: { path: `${t.outside}/pwned-${t.id}` },
      data: OWNED,
    }),
  },
  {
    label: "a GNU long name ('L') climbing out behind a harmless ustar name",
    offending: (t) => ({
      name: `${EVIL_TREE}/harmless-${t.id}.go`,
      gnuLongName: `${EVIL_TREE}/${'d'.repeat(100)}/../../../../../pwned-${t.id}`,
      data: OWNED,
    }),
  },
  {
    label: 'a ustar prefix field of ..',
    offending: (t) => ({ name: `../../pwned-${t.id}`, prefix: '..', data: OWNED }),
  },
  {
    label: 'a symbolic link whose pax linkpath leaves while its ustar linkname stays',
    offending: (t) => ({
      name: `${EVIL_TREE}/link-${t.id}`,
      type: '2',
      linkname: 'go.mod',
      pax: { linkpath: t.outside },
    }),
    then: (t) => [{ name: `${EVIL_TREE}/link-${t.id}/pwned-${t.id}`, data: OWNED }],
  },
  {
    label: "a hard link whose GNU long link ('K') leaves while its ustar linkname stays",
    offending: (t) => ({
      name: `${EVIL_TREE}/hard-${t.id}`,
      type: '1',
      linkname: 'go.mod',
      gnuLongLink: `${t.outside}/victim`,
    }),
  },
];

/** The extractor's words for the member types it refuses (src/restore/extract.ts). */
const TYPE_WORDS: Record<string, string> = {
  '1': 'hard link',
  '2': 'symbolic link',
  '3': 'character device',
  '4': 'block device',
  '6': 'fifo',
};

/**
 * Why the extractor must refuse a member, from the member itself: its name is
 * judged first (absolute, then `..`), then its type (anything but a regular
 * file or a directory).
 */
function expectedReason(m: TarMember): string {
  const name = effectiveName(m);
  if (name.startsWith('/')) return 'absolute name';
  if (name.split('/').includes('..')) return 'name contains a ".." segment';
  const type = m.type ?? '0';
  if (type === '0' || type === '5') throw new Error(`${name} is a harmless member`);
  return `${TYPE_WORDS[type] ?? 'unknown-type'} members are not allowed (only regular files and directories)`;
}

/**
 * A zstd tar that starts like a module cache (directories, a .mod, a tree
 * file), then the planted member, then more offending members of other kinds
 * and names: a warning naming any of those instead is wrong.
 */
function plantedMembers(c: PlantCase, t: Target): TarMember[] {
  return [
    { name: './cache/download/example.com/evil/@v/', type: '5', mode: 0o755 },
    { name: './cache/download/example.com/evil/@v/v1.0.0.mod', data: 'module example.com/evil\n' },
    { name: `${EVIL_TREE}/`, type: '5', mode: 0o755 },
    { name: `${EVIL_TREE}/go.mod`, data: 'module example.com/evil\n' },
    c.offending(t),
    ...(c.then?.(t) ?? []),
    { name: `${EVIL_TREE}/fifo-after-${t.id}`, type: '6' },
    { name: `./../../../pwned-${t.id}-after`, data: OWNED },
  ];
}

describe.each([
  { restorer: 'pre', skipPre: false },
  { restorer: 'main alone (uses: ./, no pre)', skipPre: true },
])('restored by $restorer', ({ skipPre }) => {
  describe.each(CASES.map((c, i) => [c.label, c, i] as const))(
    'a planted entry with %s',
    (_label, c, i) => {
      it('is rejected naming the entry, its first offending member and why; nothing is written outside the module cache; the job stays green as a miss', async () => {
        const id = `${i}${skipPre ? 'm' : 'p'}`;
        const env = `planted-${id}`;
        const outside = path.join(world.root, `plant-${id}`, 'outside');
        mkdirSync(outside, { recursive: true });
        const victim = path.join(outside, 'victim');
        writeFileSync(victim, 'victim\n');
        const t: Target = { outside, id };
        const members = plantedMembers(c, t);
        const offending = c.offending(t);

        // The planted archive is what it claims: GNU tar reads the hidden name and link.
        const listing = execFileSync('tar', ['-tvPf', '-'], {
          input: tarBuffer(members),
          encoding: 'utf8',
        });
        expect(listing).toContain(effectiveName(offending));
        if (effectiveLink(offending) !== '')
          expect(listing).toContain(`${effectiveLink(offending)}`);

        const key = `${prefix};env=${env};ref=main;sum=${'0'.repeat(40)};gen=planted`;
        const version = entryVersion(['.'], 'zstd-without-long', process.platform);
        await world.server.putArchive('main', key, version, zstdTar(members));

        const job = await world.job({ inputs: { environment: env }, skipPre });
        expect(job.succeeded, job.log).toBe(true);
        expect(job.pre === undefined).toBe(skipPre);

        // The warning names the entry, the first offending member and why.
        const rejections = job.annotations.filter((a) =>
          a.message.startsWith('Rejected cache entry'),
        );
        expect(rejections, job.log).toHaveLength(1);
        // By the stage that restored: pre, or main when pre did not run.
        const restorer = skipPre ? job.main : job.pre!;
        expect(restorer.annotations).toContainEqual(rejections[0]);
        expect(rejections[0]!.level).toBe('warning');
        const expected =
          `Rejected cache entry ${key}: member ${JSON.stringify(effectiveName(offending))}: ` +
          `${expectedReason(offending)}. Nothing of it was kept`;
        expect(rejections[0]!.message.slice(0, expected.length)).toBe(expected);

        // A miss: nothing restored, Go downloaded the modules, post saved a good entry.
        expect(job.outputs['hit-kind']).toBe('miss');
        expect(job.outputs['cache-hit']).toBe('false');
        expect(job.outputs['cache-matched-key'] ?? '').toBe('');
        expect(job.outputs['verified']).toBe('true');
        expect(job.outputs['module-count']).toBe(probeModuleCount);
        const saved = world.entriesOf(env).filter((k) => k !== key);
        expect(saved).toHaveLength(1);
        expect(saved[0]!.startsWith(`${job.outputs['cache-key']!};gen=`), saved[0]).toBe(true);
        expect(world.entryModules(saved[0]!)).toEqual(probeModules);
        expect(world.entryListing(saved[0]!).filter((f) => /evil|pwned/.test(f))).toEqual([]);

        // Nothing written anywhere in the test root outside the module cache:
        // no file it names, no link, FIFO or device, the aimed-at folder untouched.
        expect(findNamed(world.root, ['pwned*'])).toEqual([]);
        expect(specialFiles(world.root)).toEqual(specialBaseline);
        expect(readdirSync(outside)).toEqual(['victim']);
        expect(readFileSync(victim, 'utf8')).toBe('victim\n');
        expect(statSync(victim).nlink).toBe(1);
        // And nothing of the planted entry kept inside the module cache.
        const mc = world.modCache(job.home);
        expect(findNamed(mc, ['*evil*', `*-${id}`, `*-${id}.go`, `*-${id}-after`])).toEqual([]);
      });
    },
  );
});

describe('a planted entry whose module zip holds names that climb out of the module', () => {
  it('writes nothing outside that module, reports it by name and repairs it; the job stays green', async () => {
    // The probe job's cache, with one module carried as our entries carry it
    // (its zip, no tree) and that zip replaced by one whose entries escape.
    const seed = await world.job({ inputs: { environment: 'zip-escape' } });
    expect(seed.succeeded, seed.log).toBe(true);
    const runner = world.cloneRunner(seed.home);
    const mc = world.modCache(path.join(runner, 'home'));
    const victim = 'example.com/m001@v1.0.0';
    execFileSync('chmod', ['-R', 'u+w', path.join(mc, 'example.com')]);
    rmSync(path.join(mc, 'example.com', 'm001@v1.0.0'), { recursive: true, force: true });
    const zipFile = path.join(mc, 'cache', 'download', 'example.com', 'm001', '@v', 'v1.0.0.zip');
    writeFileSync(
      zipFile,
      zipBuffer([
        { name: `${victim}/go.mod`, data: 'module example.com/m001\n' },
        { name: `${victim}/../../../../../../../../pwned`, data: 'owned' },
        { name: `${victim}/a/../../../../../../../../pwned2`, data: 'owned' },
      ]),
    );
    const key = `${seed.outputs['cache-key']};gen=planted`;
    await world.plant(runner, key);

    const job = await world.job({ inputs: { environment: 'zip-escape' } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['cache-matched-key']).toBe(key);
    expect(job.outputs['verified']).toBe('true');
    expect(job.outputs['corrupt-modules']).toContain(victim);
    // Nowhere on the machine's test root, inside or outside the module cache.
    expect(execFileSync('find', [world.root, '-name', 'pwned*']).toString()).toBe('');
    // Repaired: the module's tree is Go's again.
    const tree = path.join(world.modCache(job.home), 'example.com', 'm001@v1.0.0');
    expect(readdirSync(tree)).toContain('m001.go');
  });
});

describe('a planted entry whose download path names a tree inside another module', () => {
  it('unpacks nothing into that module; it is verified as its genuine zip says; the job stays green', async () => {
    // The probe job's cache with m001 carried as its zip alone, plus a zip
    // under a download path holding an '@' (no module path can): read as a
    // module it would be example.com/m001@v1.0.0/static/x at v2.0.0, whose
    // tree directory lies inside m001's own tree.
    const seed = await world.job({ inputs: { environment: 'zip-nested' } });
    expect(seed.succeeded, seed.log).toBe(true);
    const runner = world.cloneRunner(seed.home);
    const mc = world.modCache(path.join(runner, 'home'));
    const victim = 'example.com/m001@v1.0.0';
    const genuineTree = readdirSync(path.join(mc, victim), { recursive: true }).sort();
    execFileSync('chmod', ['-R', 'u+w', path.join(mc, 'example.com')]);
    rmSync(path.join(mc, victim), { recursive: true, force: true });
    const rogueDir = path.join(mc, 'cache', 'download', victim, 'static', 'x', '@v');
    mkdirSync(rogueDir, { recursive: true });
    writeFileSync(
      path.join(rogueDir, 'v2.0.0.zip'),
      zipBuffer([{ name: `${victim}/static/x@v2.0.0/evil.js`, data: 'alert(1)\n' }]),
    );
    const key = `${seed.outputs['cache-key']};gen=planted-nested`;
    await world.plant(runner, key);

    const job = await world.job({ inputs: { environment: 'zip-nested' } });
    expect(job.succeeded, job.log).toBe(true);
    expect(job.outputs['cache-matched-key']).toBe(key);
    expect(job.outputs['corrupt-modules'] ?? '').not.toContain('example.com/m001');
    expect(job.outputs['verified']).toBe('true');
    // m001's tree is exactly Go's: the rogue zip added nothing to it.
    const tree = path.join(world.modCache(job.home), victim);
    expect(readdirSync(tree, { recursive: true }).sort()).toEqual(genuineTree);
    expect(execFileSync('find', [world.root, '-name', 'evil.js']).toString()).toBe('');
  });
});
