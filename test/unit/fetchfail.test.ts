/**
 * Go's words when fetching private modules fails, as Go 1.26 prints them (taken
 * from runs against the loopback proxy of test/e2e/harness/auth-proxy.ts and
 * from cmd/go's format strings), and the messages built from them.
 */
import { describe, expect, it } from 'vitest';
import {
  parseAuthFailure,
  parseChecksumMismatches,
  parseSumdbMiss,
  privatePatternFor,
} from '../../src/go/fetchfail.js';
import { classifyGoFailure, type FailureContext } from '../../src/go/goout.js';

const SECURITY = `go: downloading corp.example.test/platform/auth v1.0.0
verifying corp.example.test/platform/auth@v1.0.0: checksum mismatch
	downloaded: h1:NEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWN=
	go.sum:     h1:OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO=

SECURITY ERROR
This download does NOT match an earlier download recorded in go.sum.
The bits may have been replaced on the origin server, or an attacker may
have intercepted the download attempt.

For more information, see 'go help module-auth'.
`;

const GO_MOD_MISMATCH = `verifying git.internal.test/team/lib.git@v1.1.0/go.mod: checksum mismatch
	downloaded: h1:AAA=
	/work/app/go.work.sum:     h1:BBB=
`;

const UNAUTHORIZED =
  'go: corp.example.test/lib@v1.0.0: reading https://127.0.0.1:45609/corp.example.test/lib/@v/v1.0.0.info: 401 Unauthorized\n\tserver response: authentication required';
const FORBIDDEN =
  'go: corp.example.test/lib@v1.0.0: reading https://ci-bot:xxxxx@127.0.0.1:45609/corp.example.test/lib/@v/v1.0.0.info: 403 Forbidden\n\tserver response: forbidden: bad credentials';
const GIT_PROMPT = `go: git.corp.test/x.git@v1.0.0: git ls-remote -q origin in /home/runner/go/pkg/mod/cache/vcs/0a1b: exit status 128:
	fatal: could not read Username for 'https://git.corp.test': terminal prompts disabled`;
const SUMDB_404 =
  'go: corp.example.test/lib@v1.0.0: verifying go.mod: corp.example.test/lib@v1.0.0/go.mod: reading https://127.0.0.1:44559/sumdb/sum.golang.org/lookup/corp.example.test/lib@v1.0.0: 404 Not Found\n\tserver response: not found: corp.example.test/lib@v1.0.0: reading corp.example.test/lib@v1.0.0: 404 Not Found';
const SUMDB_410 =
  'verifying module: corp.example.test/lib@v1.0.0: reading https://sum.golang.org/lookup/corp.example.test/lib@v1.0.0: 410 Gone\n\tserver response: not found: corp.example.test/lib@v1.0.0: invalid version: unknown revision';

const ctx: FailureContext = {
  command: 'go mod download',
  dir: '/work/app',
  files: ['/work/app/go.mod'],
  why: 'working-directory',
};

describe('parseChecksumMismatches', () => {
  it('gives the module, the version and both hashes', () => {
    expect(parseChecksumMismatches(SECURITY)).toEqual([
      {
        path: 'corp.example.test/platform/auth',
        version: 'v1.0.0',
        goMod: false,
        downloaded: 'h1:NEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWN=',
        source: 'go.sum',
        expected: 'h1:OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO=',
      },
    ]);
  });

  it('tells a go.mod mismatch and names a go.work.sum by its file name', () => {
    expect(parseChecksumMismatches(GO_MOD_MISMATCH)).toEqual([
      {
        path: 'git.internal.test/team/lib.git',
        version: 'v1.1.0',
        goMod: true,
        downloaded: 'h1:AAA=',
        source: 'go.work.sum',
        expected: 'h1:BBB=',
      },
    ]);
  });

  it('finds none in other failures', () => {
    expect(parseChecksumMismatches(UNAUTHORIZED)).toEqual([]);
  });
});

describe('parseAuthFailure and parseSumdbMiss', () => {
  it('recognise 401, 403 and a git prompt, with the URL Go named', () => {
    expect(parseAuthFailure(UNAUTHORIZED)).toEqual({
      status: 401,
      url: 'https://127.0.0.1:45609/corp.example.test/lib/@v/v1.0.0.info',
    });
    expect(parseAuthFailure(FORBIDDEN)?.status).toBe(403);
    expect(parseAuthFailure(GIT_PROMPT)).toEqual({
      status: 'git-prompt',
      url: 'https://git.corp.test',
    });
    expect(parseAuthFailure(SUMDB_404)).toBeUndefined();
  });

  it('recognise a checksum database that never saw the module (404 and 410)', () => {
    expect(parseSumdbMiss(SUMDB_404)).toEqual({
      module: 'corp.example.test/lib@v1.0.0',
      status: 404,
    });
    expect(parseSumdbMiss(SUMDB_410)).toEqual({
      module: 'corp.example.test/lib@v1.0.0',
      status: 410,
    });
    expect(parseSumdbMiss(UNAUTHORIZED)).toBeUndefined();
  });

  it('suggest the host as the GOPRIVATE pattern, the owner too on a public forge', () => {
    expect(privatePatternFor('corp.example.test/platform/auth')).toBe('corp.example.test');
    expect(privatePatternFor('github.com/acme/secret/v2')).toBe('github.com/acme');
  });
});

describe('classifyGoFailure for private modules', () => {
  it('a checksum mismatch: security, naming the module, version, both hashes and how to decide', () => {
    const f = classifyGoFailure(SECURITY, ctx);
    expect(f.kind).toBe('security');
    expect(f.modules).toEqual(['corp.example.test/platform/auth@v1.0.0']);
    expect(f.mismatches).toHaveLength(1);
    expect(f.message).toContain(
      'corp.example.test/platform/auth@v1.0.0: go.sum holds h1:OLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDOLDO=, ' +
        'the download now hashes to h1:NEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWNEWN=',
    );
    expect(f.message).toContain('re-published');
    expect(f.message).toContain('or go.sum was edited');
    expect(f.message).toContain('go mod download -json corp.example.test/platform/auth@v1.0.0');
    expect(f.message).toContain('Nothing is repaired or saved');
  });

  it('401 without credentials: auth, saying the job hands Go none', () => {
    const f = classifyGoFailure(UNAUTHORIZED, { ...ctx, credentials: [], goEnv: {} });
    expect(f.kind).toBe('auth');
    expect(f.message).toContain('401 Unauthorized');
    expect(f.message).toContain('The job hands Go no credentials: no NETRC, no .netrc in HOME');
    expect(f.message).toContain('machine 127.0.0.1:45609 login <user> password <token>');
  });

  it('403: auth, naming the sources the job set and the masked GOPROXY', () => {
    const f = classifyGoFailure(FORBIDDEN, {
      ...ctx,
      credentials: ['a .netrc in HOME'],
      goEnv: { GOPROXY: 'https://***@127.0.0.1:45609,direct' },
    });
    expect(f.kind).toBe('auth');
    expect(f.message).toContain('403 Forbidden: it refused the credentials');
    expect(f.message).toContain('through: a .netrc in HOME.');
    expect(f.message).toContain('GOPROXY=https://***@127.0.0.1:45609,direct');
  });

  it('a git prompt: auth, with the git ways to hand over credentials', () => {
    const f = classifyGoFailure(GIT_PROMPT, { ...ctx, credentials: [] });
    expect(f.kind).toBe('auth');
    expect(f.message).toContain('git needs credentials for https://git.corp.test');
    expect(f.message).toContain('credential helper');
  });

  it('a sumdb 404/410: sumdb, with GOPRIVATE to set and what is set now', () => {
    for (const text of [SUMDB_404, SUMDB_410]) {
      const f = classifyGoFailure(text, { ...ctx, goEnv: { GONOSUMDB: 'git.internal.test' } });
      expect(f.kind).toBe('sumdb');
      expect(f.modules).toEqual(['corp.example.test/lib@v1.0.0']);
      expect(f.message).toContain(
        'the checksum database has no record of corp.example.test/lib@v1.0.0',
      );
      expect(f.message).toContain('GOPRIVATE unset, GONOSUMDB=git.internal.test');
      expect(f.message).toContain('Fix: set GOPRIVATE: corp.example.test');
    }
  });
});
