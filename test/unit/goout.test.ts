import { describe, expect, it } from 'vitest';
import {
  classifyDownloadFailure,
  classifyGoFailure,
  parseVerifyOutput,
  type FailureContext,
} from '../../src/go/goout.js';

describe('parseVerifyOutput', () => {
  it('recognises success', () => {
    expect(parseVerifyOutput('all modules verified\n')).toEqual({
      allVerified: true,
      bad: [],
      other: [],
    });
  });

  it('lists every bad module with a reason', () => {
    const out = parseVerifyOutput(
      [
        'example.com/a v1.0.0: dir has been modified (/home/runner/go/pkg/mod/example.com/a@v1.0.0)',
        'example.com/b v1.2.0: zip has been modified (/home/runner/go/pkg/mod/cache/download/example.com/b/@v/v1.2.0.zip)',
        'example.com/c v0.0.0-20240101000000-abcdefabcdef: missing ziphash: open /x/v0.0.0-20240101000000-abcdefabcdef.ziphash: no such file or directory',
        'example.com/D v2.0.0+incompatible: zip: not a valid zip file',
      ].join('\n'),
    );
    expect(out.allVerified).toBe(false);
    expect(out.bad).toEqual([
      { module: 'example.com/a@v1.0.0', reason: 'extracted files differ from the ziphash' },
      { module: 'example.com/b@v1.2.0', reason: 'zip differs from the ziphash' },
      { module: 'example.com/c@v0.0.0-20240101000000-abcdefabcdef', reason: 'missing ziphash' },
      {
        module: 'example.com/D@v2.0.0+incompatible',
        reason: 'unreadable zip (zip: not a valid zip file)',
      },
    ]);
  });

  it('keeps lines that are not about a module', () => {
    const out = parseVerifyOutput(
      'go: example.com/x@v1.0.0: module lookup disabled by GOPROXY=off\n',
    );
    expect(out.bad).toEqual([]);
    expect(out.other).toEqual(['go: example.com/x@v1.0.0: module lookup disabled by GOPROXY=off']);
    expect(out.allVerified).toBe(false);
  });
});

describe('classifyDownloadFailure', () => {
  it('calls a checksum mismatch a SECURITY ERROR and names the module', () => {
    const f = classifyDownloadFailure(
      'verifying example.com/m002@v1.0.0: checksum mismatch\n\tdownloaded: h1:AAA=\n\tgo.sum:     h1:BBB=\n\nSECURITY ERROR\nThis download does NOT match an earlier download recorded in go.sum.\n',
    );
    expect(f.kind).toBe('security');
    expect(f.kind === 'security' && f.modules).toEqual(['example.com/m002@v1.0.0']);
  });

  it('names the module for a go.mod mismatch too', () => {
    const f = classifyDownloadFailure(
      'verifying example.com/x@v1.0.0/go.mod: checksum mismatch\nSECURITY ERROR\n',
    );
    expect(f.kind === 'security' && f.modules).toEqual(['example.com/x@v1.0.0']);
  });

  it('recognises network and proxy failures', () => {
    for (const msg of [
      'go: example.com/a@v1.0.0: Get "https://proxy.golang.org/example.com/a/@v/v1.0.0.info": dial tcp: lookup proxy.golang.org: no such host',
      'go: example.com/a@v1.0.0: module lookup disabled by GOPROXY=off',
      'go: example.com/a@v1.0.0: reading file:///tmp/proxy/example.com/a/@v/v1.0.0.info: no such file or directory',
    ]) {
      expect(classifyDownloadFailure(msg).kind, msg).toBe('network');
    }
  });

  it('leaves anything else as other', () => {
    expect(classifyDownloadFailure('go: go.mod file not found').kind).toBe('other');
  });
});

describe('classifyGoFailure', () => {
  const ws: FailureContext = {
    command: 'go mod verify',
    dir: '/w/ws',
    files: ['/w/ws/go.work'],
    why: 'working-directory (go.work)',
    replaceSites: { '/w/ws/libs/dep': '/w/ws/m1/go.mod:7' },
  };

  it('a local replacement missing from the checkout is a project problem naming the go.mod line', () => {
    // What go mod verify prints in a workspace (the "module graph of ws" failure).
    const f = classifyGoFailure(
      'go: example.com/dep@v1.0.0 (replaced by ./libs/dep): reading libs/dep/go.mod: open /w/ws/libs/dep/go.mod: no such file or directory\n',
      ws,
    );
    expect(f.kind).toBe('project');
    expect(f.message).toContain(
      'go mod verify failed in /w/ws (in scope through working-directory (go.work))',
    );
    expect(f.message).toContain('/w/ws/m1/go.mod:7');
    expect(f.message).toContain('not rebuilt');
    expect(f.message).toContain('Go said:\ngo: example.com/dep@v1.0.0');
  });

  it('without a known site it names the files that define the root', () => {
    const f = classifyGoFailure(
      'go: example.com/b@v1.0.0 (replaced by ../missing): reading ../missing/go.mod: open /tmp/cx/missing/go.mod: no such file or directory',
      { command: 'go mod download', dir: '/tmp/cx/a', files: ['/tmp/cx/a/go.mod'] },
    );
    expect(f.kind).toBe('project');
    expect(f.message).toContain('replace directive in /tmp/cx/a/go.mod');
  });

  it('a go directive newer than the installed Go is a version mismatch, not an incomplete cache', () => {
    const f = classifyGoFailure(
      'go: go.mod requires go >= 1.99 (running go 1.26.8; GOTOOLCHAIN=local)\n',
      { command: 'go mod download', dir: '/w/app', files: ['/w/app/go.mod'] },
    );
    expect(f.kind).toBe('version');
    expect(f.needs).toEqual({ file: 'go.mod', version: '1.99', running: '1.26.8' });
    expect(f.message).toContain('go.mod needs Go >= 1.99, but the installed Go is 1.26.8');
    expect(f.message).toContain('go-version-file: go.mod');
    expect(f.message).toContain('GOTOOLCHAIN=auto');
    expect(f.message).not.toContain('is incomplete');
    const work = classifyGoFailure(
      'go: go.work requires go >= 1.30 (running go 1.26.8; GOTOOLCHAIN=local)',
      ws,
    );
    expect(work.needs?.file).toBe('go.work');
  });

  it('only bytes that disagree with what Go recorded are corruption', () => {
    const f = classifyGoFailure(
      'example.com/a v1.0.0: dir has been modified (/home/runner/go/pkg/mod/example.com/a@v1.0.0)\n',
      ws,
    );
    expect(f.kind).toBe('corruption');
    expect(f.modules).toEqual(['example.com/a@v1.0.0']);
  });

  it('recognises the other project problems', () => {
    const cases: [string, RegExp][] = [
      [
        'go: cannot load module gone listed in go.work file: open gone/go.mod: no such file or directory',
        /go\.work uses gone/,
      ],
      [
        'go: errors parsing go.mod:\n/w/app/go.mod:6: unknown directive: foo',
        /go\.mod does not parse \(\/w\/app\/go\.mod:6: unknown directive: foo\)/,
      ],
      ['go: example.com/x@v1.0.0: missing go.sum entry for go.mod file', /go mod tidy/],
      [
        'go: example.com/x@v1.0.0: parsing go.mod:\n\tmodule declares its path as: example.com/y\n\t        but was required as: example.com/x',
        /declares its path as example\.com\/y but is required as example\.com\/x/,
      ],
      ['go: example.com/x@v9.9.9: invalid version: unknown revision v9.9.9', /does not exist/],
    ];
    for (const [stderr, message] of cases) {
      const f = classifyGoFailure(stderr, ws);
      expect(f.kind, stderr).toBe('project');
      expect(f.message, stderr).toMatch(message);
    }
  });

  it('a refused fetch is a credentials problem; a mismatch stays a SECURITY ERROR', () => {
    const net = classifyGoFailure(
      'go: private.example/fake@v1.0.0: reading https://proxy.golang.org/private.example/fake/@v/v1.0.0.mod: 403 Forbidden',
      {
        command: 'go mod download',
        dir: '/w/app',
        files: ['/w/app/go.mod'],
        why: 'working-directory',
      },
    );
    expect(net.kind).toBe('auth');
    expect(net.message).toContain(
      'go mod download failed in /w/app (in scope through working-directory)',
    );
    const sec = classifyGoFailure(
      'verifying example.com/m@v1.0.0: checksum mismatch\n\tdownloaded: h1:A=\n\tgo.sum:     h1:B=\n\nSECURITY ERROR\n',
      ws,
    );
    expect(sec.kind).toBe('security');
    expect(sec.modules).toEqual(['example.com/m@v1.0.0']);
  });

  it('anything else is not corruption either', () => {
    const f = classifyGoFailure('go: something new went wrong', ws);
    expect(f.kind).toBe('other');
    expect(f.message).toContain('not module cache corruption');
  });
});
