import { describe, expect, it } from 'vitest';
import { classifyDownloadFailure, parseVerifyOutput } from '../../src/go/goout.js';

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
