/**
 * A hermetic Go module proxy (GOPROXY=file://...) and a sample project whose
 * go.sum the real go command produces against it. No network.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';
import { escapeModulePath } from '../../../src/go/gosum.js';
import { writeZip } from './zip.js';

export interface ModuleVersion {
  path: string;
  version: string;
  /** go.mod of the module; undefined for a +incompatible version (no go.mod in the zip). */
  goMod?: string;
  files: Record<string, string | Buffer>;
}

/** Writes one module version into a proxy directory. */
export function publish(proxyDir: string, m: ModuleVersion): void {
  const dir = path.join(proxyDir, ...escapeModulePath(m.path).split('/'), '@v');
  mkdirSync(dir, { recursive: true });
  const v = escapeModulePath(m.version);
  if (!/^v0\.0\.0-\d{14}-/.test(m.version))
    appendFileSync(path.join(dir, 'list'), `${m.version}\n`);
  writeFileSync(
    path.join(dir, `${v}.info`),
    JSON.stringify({ Version: m.version, Time: '2024-01-01T00:00:00Z' }),
  );
  writeFileSync(path.join(dir, `${v}.mod`), m.goMod ?? `module ${m.path}\n`);
  const prefix = `${m.path}@${m.version}/`;
  const entries = Object.entries(m.files).map(([name, data]) => ({ name: prefix + name, data }));
  if (m.goMod !== undefined) entries.push({ name: `${prefix}go.mod`, data: m.goMod });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  writeZip(path.join(dir, `${v}.zip`), entries);
}

/** Deterministic filler bytes so synthetic modules can have a realistic size. */
function payload(seed: string, bytes: number): string {
  let out = '';
  let block = seed;
  while (out.length < bytes) {
    block = createHash('sha256').update(block).digest('hex');
    out += block;
  }
  return out.slice(0, bytes);
}

export interface GeneratedSet {
  /** Every published module version. */
  versions: ModuleVersion[];
  /** Plain modules m000.. (paths), each published at v1.0.0 and v1.1.0. */
  plain: string[];
  /** Special module requirements the sample project uses: path -> version. */
  special: Record<string, string>;
}

const pad = (i: number): string => String(i).padStart(3, '0');

/**
 * Generates `count` modules with dependencies between them (module i requires
 * module (i-1)/2), a nested package in each, and three special ones: a path
 * with upper-case letters, a +incompatible version and a pseudo-version.
 */
export function generateModules(count: number, payloadBytes = 0): GeneratedSet {
  const versions: ModuleVersion[] = [];
  const plain: string[] = [];
  for (let i = 0; i < count; i++) {
    const p = `example.com/m${pad(i)}`;
    plain.push(p);
    const parent = i > 0 ? `example.com/m${pad(Math.floor((i - 1) / 2))}` : undefined;
    for (const [version, k] of [
      ['v1.0.0', i],
      ['v1.1.0', i + 1000],
    ] as const) {
      const goMod = `module ${p}\n\ngo 1.21\n${parent ? `\nrequire ${parent} v1.0.0\n` : ''}`;
      const body = parent
        ? `package m${pad(i)}\n\nimport parent "${parent}"\n\nfunc F() int { return parent.F() + ${k} }\n`
        : `package m${pad(i)}\n\nfunc F() int { return ${k} }\n`;
      const files: Record<string, string> = {
        [`m${pad(i)}.go`]: body,
        'inner/deep/deep.go': `package deep\n\nconst Name = "${p} ${version}"\n`,
        LICENSE: 'MIT\n',
      };
      if (payloadBytes > 0)
        files['testdata/payload.txt'] = payload(`${p}@${version}`, payloadBytes);
      versions.push({ path: p, version, goMod, files });
    }
  }
  const special: Record<string, string> = {
    'example.com/UpperCase/Mod': 'v1.2.3',
    'example.com/legacy': 'v2.0.0+incompatible',
    'example.com/pseudo': 'v0.0.0-20240101000000-abcdefabcdef',
  };
  versions.push({
    path: 'example.com/UpperCase/Mod',
    version: 'v1.2.3',
    goMod: 'module example.com/UpperCase/Mod\n\ngo 1.21\n',
    files: { 'mod.go': 'package mod\n\nfunc F() int { return 7 }\n' },
  });
  versions.push({
    path: 'example.com/legacy',
    version: 'v2.0.0+incompatible',
    files: { 'legacy.go': 'package legacy\n\nfunc F() int { return 11 }\n' },
  });
  versions.push({
    path: 'example.com/pseudo',
    version: 'v0.0.0-20240101000000-abcdefabcdef',
    goMod: 'module example.com/pseudo\n\ngo 1.21\n',
    files: { 'pseudo.go': 'package pseudo\n\nfunc F() int { return 13 }\n' },
  });
  return { versions, plain, special };
}

export function goEnv(proxyDir: string, home: string, extra: Record<string, string> = {}) {
  return {
    ...process.env,
    HOME: home,
    USERPROFILE: home,
    GOPATH: path.join(home, 'go'),
    GOMODCACHE: path.join(home, 'go', 'pkg', 'mod'),
    GOCACHE: path.join(home, '.cache', 'go-build'),
    GOPROXY: pathToFileURL(proxyDir).href,
    GOSUMDB: 'off',
    GOTOOLCHAIN: 'local',
    GOFLAGS: '-mod=mod',
    GONOSUMDB: '',
    GOPRIVATE: '',
    GOWORK: '',
    ...extra,
  };
}

export function runGo(args: string[], cwd: string, env: NodeJS.ProcessEnv): string {
  return execFileSync('go', args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface SampleProject {
  dir: string;
  requires: Record<string, string>;
}

/**
 * Writes a Go program requiring `requires` (path -> version) and lets the real
 * go command resolve it and write go.sum against the proxy.
 */
export function writeProject(
  dir: string,
  modulePath: string,
  requires: Record<string, string>,
  env: NodeJS.ProcessEnv,
): SampleProject {
  mkdirSync(dir, { recursive: true });
  const req = Object.entries(requires)
    .map(([p, v]) => `\t${p} ${v}`)
    .join('\n');
  writeFileSync(
    path.join(dir, 'go.mod'),
    `module ${modulePath}\n\ngo 1.21\n\nrequire (\n${req}\n)\n`,
  );
  const imports = Object.keys(requires)
    .map((p, i) => `\tp${i} "${p}"`)
    .join('\n');
  const calls = Object.keys(requires)
    .map((_p, i) => `p${i}.F()`)
    .join(' + ');
  writeFileSync(
    path.join(dir, 'main.go'),
    `package main\n\nimport (\n\t"fmt"\n\n${imports}\n)\n\nfunc main() { fmt.Println(${calls || '0'}) }\n`,
  );
  runGo(['mod', 'tidy'], dir, env);
  return { dir, requires };
}

export function readGoSum(dir: string): string {
  return readFileSync(path.join(dir, 'go.sum'), 'utf8');
}
