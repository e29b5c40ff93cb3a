/**
 * A restore cannot write outside the module cache. Entries planted the way a
 * workflow with write access to the repository's cache could plant them
 * (raw archives under this action's key prefix, newest in the lineage) hold
 * an absolute name, a `..` escape, a symlink, a hard link, a device or a FIFO:
 * each is rejected with a warning naming the entry and the member, nothing is
 * written outside the module cache, and the job goes on green as a miss. A
 * module's zip, from which the restore writes its tree, is checked name by
 * name the same way: a zip whose names climb out writes nothing outside its
 * module, and that module is reported and repaired; a zip whose download path
 * names a tree inside another module's tree is never unpacked.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { entryVersion } from '../../src/cache/service/index.js';
import { World } from './harness/world.js';
import { zipBuffer } from './harness/zip.js';

let world: World;
let prefix: string;

beforeAll(async () => {
  world = await World.create({ modules: 4 });
  const probe = await world.job({ inputs: { environment: 'probe' } });
  expect(probe.succeeded, probe.log).toBe(true);
  prefix = probe.outputs['cache-key']!.replace(/;env=probe;.*$/, '');
});

afterAll(async () => {
  await world?.dispose();
});

type Kind = 'absolute' | 'dotdot' | 'symlink' | 'hardlink' | 'device' | 'fifo';

/**
 * A zstd tar whose first members look like a module cache, then the planted
 * member. Python's tarfile writes the headers; nothing here touches the disk
 * outside `dir`.
 */
function plantedArchive(dir: string, kind: Kind, target: string): Buffer {
  const script = `
import io, sys, tarfile
kind, target, out = sys.argv[1], sys.argv[2], sys.argv[3]
def add(tf, name, data=b'x', type=tarfile.REGTYPE, linkname=''):
    ti = tarfile.TarInfo(name)
    ti.type = type
    ti.linkname = linkname
    ti.mode = 0o644
    if type == tarfile.REGTYPE:
        ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data))
    else:
        tf.addfile(ti)
with tarfile.open(out, 'w', format=tarfile.PAX_FORMAT) as tf:
    d = tarfile.TarInfo('./cache/download/example.com/evil/@v'); d.type = tarfile.DIRTYPE; d.mode = 0o755
    tf.addfile(d)
    add(tf, './cache/download/example.com/evil/@v/v1.0.0.mod', b'module example.com/evil\\n')
    if kind == 'absolute':
        add(tf, target + '/pwned', b'owned')
    elif kind == 'dotdot':
        add(tf, './../../../pwned', b'owned')
    elif kind == 'symlink':
        add(tf, './example.com/evil@v1.0.0/link', type=tarfile.SYMTYPE, linkname=target)
        add(tf, './example.com/evil@v1.0.0/link/pwned', b'owned')
    elif kind == 'hardlink':
        add(tf, './example.com/evil@v1.0.0/hard', type=tarfile.LNKTYPE, linkname=target + '/victim')
    elif kind == 'device':
        add(tf, './example.com/evil@v1.0.0/dev', type=tarfile.CHRTYPE)
    elif kind == 'fifo':
        add(tf, './example.com/evil@v1.0.0/fifo', type=tarfile.FIFOTYPE)
`;
  const tar = path.join(dir, `${kind}.tar`);
  execFileSync('python3', ['-c', script, kind, target, tar]);
  return execFileSync('zstd', ['-q', '-c', tar]);
}

describe.each(['absolute', 'dotdot', 'symlink', 'hardlink', 'device', 'fifo'] as Kind[])(
  'a planted entry with a %s member',
  (kind) => {
    it('is rejected by name, writes nothing outside the module cache, and the job stays green', async () => {
      const env = `planted-${kind}`;
      const work = path.join(world.root, `plant-${kind}`);
      const sentinel = path.join(work, 'sentinel');
      mkdirSync(sentinel, { recursive: true });
      const key = `${prefix};env=${env};ref=main;sum=${'0'.repeat(40)};gen=planted`;
      const version = entryVersion(['.'], 'zstd-without-long', process.platform);
      await world.server.putArchive('main', key, version, plantedArchive(work, kind, sentinel));

      const job = await world.job({ inputs: { environment: env } });
      expect(job.succeeded, job.log).toBe(true);
      expect(job.outputs['hit-kind']).toBe('miss');
      expect(job.outputs['verified']).toBe('true');
      const warning = job.annotations.find((a) => a.message.startsWith('Rejected cache entry'));
      expect(warning?.message, job.log).toContain(key);
      expect(warning?.message).toMatch(/member "/);
      // Nothing landed outside the module cache: not in the sentinel, not beside HOME.
      expect(readdirSync(sentinel)).toEqual([]);
      expect(existsSync(path.join(job.home, 'pwned'))).toBe(false);
      expect(existsSync(path.join(job.home, 'go', 'pwned'))).toBe(false);
      // Nothing of the planted entry was kept inside it either.
      const mc = world.modCache(job.home);
      expect(existsSync(path.join(mc, 'example.com', 'evil@v1.0.0'))).toBe(false);
      expect(existsSync(path.join(mc, 'cache', 'download', 'example.com', 'evil'))).toBe(false);
      expect(Number(job.outputs['module-count'])).toBeGreaterThan(0);
    });
  },
);

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
