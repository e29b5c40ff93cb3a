import { describe, expect, it } from 'vitest';
import {
  credentialSources,
  maskUserinfo,
  secretsInEnv,
  userinfoSecrets,
} from '../../src/go/credentials.js';

describe('maskUserinfo', () => {
  it('masks the userinfo of every URL in a GOPROXY list, keeping hosts and separators', () => {
    expect(maskUserinfo('https://ci:tok3n@proxy.corp:8443/go,https://proxy.example|direct')).toBe(
      'https://***@proxy.corp:8443/go,https://proxy.example|direct',
    );
    expect(maskUserinfo('https://tok3nonly@proxy.corp')).toBe('https://***@proxy.corp');
  });

  it('masks URLs inside GOFLAGS and leaves text without userinfo alone', () => {
    expect(maskUserinfo('-mod=mod -x https://u:p%40ss@h/x')).toBe('-mod=mod -x https://***@h/x');
    expect(maskUserinfo('corp.example.test,git.internal.test')).toBe(
      'corp.example.test,git.internal.test',
    );
    expect(maskUserinfo('user@example.com off')).toBe('user@example.com off');
  });
});

describe('userinfoSecrets', () => {
  it('gives the userinfo, the password, and their decoded forms', () => {
    expect(userinfoSecrets('https://ci:p%40ssword@proxy/').sort()).toEqual(
      ['ci:p%40ssword', 'ci:p@ssword', 'p%40ssword', 'p@ssword'].sort(),
    );
  });

  it('treats a user name without a password as the token it usually is', () => {
    expect(userinfoSecrets('https://ghp_abcdef@proxy/')).toEqual(['ghp_abcdef']);
  });

  it('leaves out strings too short to mask safely, and finds nothing without userinfo', () => {
    expect(userinfoSecrets('https://a:b@proxy/')).toEqual([]);
    expect(userinfoSecrets('https://proxy.golang.org,direct')).toEqual([]);
  });

  it('secretsInEnv reads the URL variables only', () => {
    expect(
      secretsInEnv({
        GOPROXY: 'https://ci:s3cret-1@p1/',
        GOFLAGS: '-x https://s3cret-2@p2/',
        OTHER: 'https://ci:not-read@p3/',
      }).sort(),
    ).toEqual(['ci:s3cret-1', 's3cret-1', 's3cret-2'].sort());
  });
});

describe('credentialSources', () => {
  const none = { netrcFileExists: false, homeNetrcExists: false };

  it('names each source and never a value', () => {
    const s = credentialSources({
      env: {
        NETRC: '/secrets/netrc',
        GOAUTH: 'netrc;/usr/bin/get-token --key SECRET-ARG',
        GOPROXY: 'https://ci:SECRET-PW@proxy/',
      },
      netrcFileExists: true,
      homeNetrcExists: true,
    });
    expect(s).toEqual([
      'NETRC is set (the file exists)',
      'GOAUTH is set (netrc, a command)',
      'userinfo in GOPROXY',
    ]);
    expect(s.join(' ')).not.toMatch(/SECRET|get-token|\/secrets/);
  });

  it('says a NETRC that names no file, a .netrc in HOME, and a GOAUTH that ignores netrc', () => {
    expect(credentialSources({ env: { NETRC: '/nope' }, ...none })).toEqual([
      'NETRC is set (but names no file)',
    ]);
    expect(
      credentialSources({ env: { GOAUTH: 'git /work/repo' }, ...none, homeNetrcExists: true }),
    ).toEqual([
      'a .netrc in HOME',
      'GOAUTH is set (git); it does not list netrc, so Go ignores the netrc file',
    ]);
  });

  it('is empty when the job hands Go no credentials', () => {
    expect(credentialSources({ env: { GOPROXY: 'https://proxy.corp' }, ...none })).toEqual([]);
  });
});
