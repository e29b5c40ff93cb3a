import { describe, expect, it } from 'vitest';
import { goflagsMod, vendorOnlyReason } from '../../src/go/vendor.js';

describe('goflagsMod', () => {
  it('reads -mod from GOFLAGS, the last one winning', () => {
    expect(goflagsMod('-mod=vendor')).toBe('vendor');
    expect(goflagsMod('-trimpath -mod=mod  -mod=vendor')).toBe('vendor');
    expect(goflagsMod('--mod=readonly -v')).toBe('readonly');
    expect(goflagsMod('-modcacherw -modfile=x.mod')).toBeUndefined();
    expect(goflagsMod('')).toBeUndefined();
  });
});

describe('vendorOnlyReason', () => {
  const vendored = { dir: '/w/app', vendored: true };
  it('says why only when GOFLAGS says -mod=vendor and every root vendors', () => {
    expect(vendorOnlyReason('-mod=vendor', [vendored])).toMatch(
      /GOFLAGS=-mod=vendor .*never the module cache/,
    );
    expect(vendorOnlyReason('-mod=vendor', [vendored, { dir: '/w/b', vendored: false }])).toBe(
      undefined,
    );
    expect(vendorOnlyReason('', [vendored])).toBeUndefined();
    expect(vendorOnlyReason('-mod=mod', [vendored])).toBeUndefined();
    expect(vendorOnlyReason('-mod=vendor', [])).toBeUndefined();
  });
});
