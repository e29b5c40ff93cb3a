/**
 * The stages' decisions with a fake cache backend (the one module replaced):
 * the real filesystem, the real go command, the runner's files.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Backend } from '../../src/cache/backend.js';
import { runMain } from '../../src/stages/main.js';
import { runPost } from '../../src/stages/post.js';
import { runPre } from '../../src/stages/pre.js';

let dir: string;
let saved: NodeJS.ProcessEnv;
let out: string[];

function fakeBackend(over: Partial<Backend> = {}): Backend & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    available: () => true,
    lookup: async (_p, key) => {
      calls.push(`lookup ${key}`);
      return { kind: 'miss' };
    },
    restore: async (_p, key) => {
      calls.push(`restore ${key}`);
      return { kind: 'failed', reason: 'not found' };
    },
    save: async (_p, key) => {
      calls.push(`save ${key}`);
      return { kind: 'saved', key };
    },
    ...over,
  };
}

function fileCommands(name: string): string {
  return readFileSync(path.join(dir, name), 'utf8');
}

function stateFrom(file: string): void {
  const text = fileCommands(file);
  const m = /^(\w+)<<(.+)\n([\s\S]*?)\n\2$/m.exec(text);
  if (m) process.env[`STATE_${m[1]}`] = m[3];
}

beforeEach(() => {
  saved = { ...process.env };
  dir = mkdtempSync(path.join(os.tmpdir(), 'vgc-stage-'));
  for (const f of ['state', 'output', 'summary']) writeFileSync(path.join(dir, f), '');
  Object.assign(process.env, {
    HOME: path.join(dir, 'home'),
    GOMODCACHE: '',
    GOPATH: '',
    GITHUB_WORKSPACE: path.join(dir, 'ws'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary'),
    GITHUB_REF_NAME: 'main',
    GOFLAGS: '',
    GOTOOLCHAIN: 'local',
    GOPROXY: 'off',
    'INPUT_ON-CORRUPTION': 'rebuild',
    INPUT_SAVE: 'auto',
  });
  delete process.env['GOMODCACHE'];
  delete process.env['GOPATH'];
  mkdirSync(path.join(dir, 'ws'), { recursive: true });
  out = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: unknown) => {
    out.push(String(chunk));
    return true;
  });
});

afterEach(() => {
  vi.restoreAllMocks();
  process.env = saved;
  process.exitCode = undefined;
});

const modCache = (): string => path.join(dir, 'home', 'go', 'pkg', 'mod');

describe('pre', () => {
  it('does not touch a non-empty module cache', async () => {
    mkdirSync(path.join(modCache(), 'example.com'), { recursive: true });
    const backend = fakeBackend();
    await runPre(backend);
    expect(backend.calls).toEqual([]);
    expect(fileCommands('state')).toContain('"outcome":"skipped-nonempty"');
  });

  it('looks up the lineage when go.sum is not on disk yet', async () => {
    const backend = fakeBackend();
    await runPre(backend);
    expect(backend.calls).toEqual([
      `lookup vgc-v1;${process.platform}-${process.arch};env=default;ref=main;`,
    ]);
  });

  it('warns and goes on when the service is unavailable', async () => {
    const backend = fakeBackend({
      lookup: async () => ({ kind: 'unavailable', reason: 'ECONNREFUSED' }),
    });
    await runPre(backend);
    expect(out.join('')).toContain('::warning::Cache service unavailable (ECONNREFUSED)');
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('skips the lookup without a cache service, with a warning', async () => {
    const backend = fakeBackend({ available: () => false });
    await runPre(backend);
    expect(backend.calls).toEqual([]);
    expect(out.join('')).toContain('::warning::Cache service unavailable (no cache service URL');
    expect(fileCommands('state')).toContain('"outcome":"unavailable"');
  });

  it('removes what a failed restore extracted', async () => {
    const backend = fakeBackend({
      lookup: async () => ({ kind: 'hit', matchedKey: 'k' }),
      restore: async () => {
        mkdirSync(path.join(modCache(), 'half'), { recursive: true });
        return { kind: 'failed', reason: 'zstd: truncated' };
      },
    });
    await runPre(backend);
    expect(existsSync(modCache())).toBe(false);
    expect(out.join('')).toContain('removing what was extracted');
  });

  it('fails for a bad input', async () => {
    process.env['INPUT_ON-CORRUPTION'] = 'maybe';
    await runPre(fakeBackend());
    expect(process.exitCode).toBe(1);
    expect(out.join('')).toContain("::error::Input 'on-corruption'");
  });
});

describe('main', () => {
  it('fails with a clear error when the working directory is missing', async () => {
    process.env['INPUT_WORKING-DIRECTORY'] = 'nope';
    await runMain(fakeBackend());
    expect(process.exitCode).toBe(1);
    expect(out.join('')).toContain("Input 'working-directory'");
  });

  it('fails with the setup-go hint when Go is missing', async () => {
    process.env['PATH'] = dir;
    await runMain(fakeBackend());
    expect(out.join('')).toContain('Go was not found on PATH');
  });

  it('verifies a module without dependencies and sets every output', async () => {
    writeFileSync(path.join(dir, 'ws', 'go.mod'), 'module example.com/nodeps\n\ngo 1.21\n');
    const backend = fakeBackend();
    await runMain(backend);
    expect(process.exitCode ?? 0).toBe(0);
    const outputs = fileCommands('output');
    for (const o of [
      'cache-hit',
      'cache-key',
      'cache-matched-key',
      'hit-kind',
      'verified',
      'rebuilt',
      'corrupt-modules',
      'module-count',
    ]) {
      expect(outputs).toContain(`${o}<<`);
    }
    expect(outputs).toMatch(/verified<<.*\ntrue\n/);
    expect(backend.calls[0]).toMatch(/^lookup vgc-v1;.*;sum=[0-9a-f]{40}$/);
  });
});

describe('post', () => {
  it('saves nothing when main did not run, and says so in the summary', async () => {
    const backend = fakeBackend();
    await runPost(backend);
    expect(backend.calls).toEqual([]);
    expect(fileCommands('summary')).toContain('nothing (main did not run)');
  });

  it('saves a verified miss under a generation key; a reserve conflict is a notice', async () => {
    writeFileSync(path.join(dir, 'ws', 'go.mod'), 'module example.com/nodeps\n\ngo 1.21\n');
    await runMain(fakeBackend());
    stateFrom('state');
    process.env['GITHUB_RUN_ID'] = '77';
    const backend = fakeBackend({ save: async (_p, key) => ({ kind: 'conflict', key }) });
    await runPost(backend);
    expect(out.join('')).toMatch(/::notice::Another job is saving .*;gen=77\.1 already/);
    expect(process.exitCode ?? 0).toBe(0);
  });

  it('a failed save is a warning, never a failure', async () => {
    writeFileSync(path.join(dir, 'ws', 'go.mod'), 'module example.com/nodeps\n\ngo 1.21\n');
    await runMain(fakeBackend());
    stateFrom('state');
    await runPost(fakeBackend({ save: async () => ({ kind: 'failed', reason: 'HTTP 500' }) }));
    expect(out.join('')).toContain('::warning::Could not save the module cache: HTTP 500');
    expect(process.exitCode ?? 0).toBe(0);
  });
});
