/**
 * A fake Go toolchain published into the harness's file:// proxy, so that a
 * GOTOOLCHAIN switch can be exercised offline. Go fetches
 * `golang.org/toolchain@v0.0.1-go<ver>.<GOOS>-<GOARCH>` like any module, sets
 * the execute bits on first use, copies each `_go.mod` to `go.mod` beside it,
 * and execs `<tree>/bin/go` with GOROOT=<tree> and
 * GOTOOLCHAIN_INTERNAL_SWITCH_VERSION=go<ver> (cmd/go/internal/toolchain).
 *
 * Our `bin/go` is a shell script: it appends a line to the file named by
 * $VGC_TOOLCHAIN_MARKER (so a test sees that it ran, and which copy ran) and
 * then execs the real go with GOTOOLCHAIN=local, without the switch variables
 * the real go would otherwise reject ("toolchain go1.x invoked to provide ...").
 */
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { publish } from './goproxy.js';

export const FAKE_GO_VERSION = '1.99.0';
/** The environment variable naming the file the fake `bin/go` appends to. */
export const MARKER_ENV = 'VGC_TOOLCHAIN_MARKER';

/** What the good fake `bin/go` writes to the marker; a tampered copy writes something else. */
export const GOOD_MARK = `fake go${FAKE_GO_VERSION}`;
export const TAMPERED_MARK = 'TAMPERED toolchain ran';

export interface FakeToolchain {
  /** `golang.org/toolchain@v0.0.1-go1.99.0.<os>-<arch>` */
  id: string;
  version: string;
  /** The tree's folder name in the module cache (no escaping needed: all lower case). */
  treeDir: string;
}

/** The `bin/go` script: marks the marker file with `mark`, then runs the real go. */
export function fakeGoScript(realGo: string, mark: string): string {
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  return [
    '#!/bin/sh',
    '# A fake Go toolchain for the verified-go-cache e2e tests.',
    `if [ -n "$${MARKER_ENV}" ]; then echo ${q(mark)} >> "$${MARKER_ENV}"; fi`,
    'unset GOROOT GOTOOLCHAIN_INTERNAL_SWITCH_VERSION GOTOOLCHAIN_INTERNAL_SWITCH_COUNT',
    `GOTOOLCHAIN=local exec ${q(realGo)} "$@"`,
    '',
  ].join('\n');
}

/**
 * Publishes the fake toolchain for this host into `proxyDir`. `realGo` is the
 * absolute path of the go binary the script hands over to.
 */
export function publishFakeToolchain(
  proxyDir: string,
  realGo: string,
  hostOs: string,
  hostArch: string,
): FakeToolchain {
  const version = `v0.0.1-go${FAKE_GO_VERSION}.${hostOs}-${hostArch}`;
  const modulePath = 'golang.org/toolchain';
  publish(proxyDir, {
    path: modulePath,
    version,
    // Like the real toolchain zips: no go.mod at the root, `_go.mod` files
    // that Go copies to `go.mod` on first use, a VERSION file, bin/ pkg/tool/ lib/.
    files: {
      VERSION: `go${FAKE_GO_VERSION}\ntime 2024-01-01T00:00:00Z\n`,
      'bin/go': fakeGoScript(realGo, GOOD_MARK),
      // Go sets the execute bits in these before running bin/go, and fails
      // the switch when one is missing.
      'bin/gofmt': '#!/bin/sh\nexit 0\n',
      [`pkg/tool/${hostOs}_${hostArch}/README`]: 'no tools in a fake toolchain\n',
      'lib/README': 'no libraries in a fake toolchain\n',
      'src/_go.mod': 'module std\n\ngo 1.99\n',
      'src/cmd/_go.mod': 'module cmd\n\ngo 1.99\n',
    },
  });
  return { id: `${modulePath}@${version}`, version, treeDir: `${modulePath}@${version}` };
}

/**
 * Replaces `bin/go` in a module cache's copy of the fake toolchain with one
 * that marks TAMPERED_MARK; .ziphash, zip and everything else stay intact, so
 * only a hash of the tree can tell.
 */
export function tamperToolchainTree(modCache: string, t: FakeToolchain, realGo: string): void {
  const dir = path.join(modCache, t.treeDir);
  const bin = path.join(dir, 'bin', 'go');
  chmodSync(dir, 0o755);
  chmodSync(path.join(dir, 'bin'), 0o755);
  chmodSync(bin, 0o755);
  const before = readFileSync(bin, 'utf8');
  const after = fakeGoScript(realGo, TAMPERED_MARK);
  if (before === after) throw new Error(`tamperToolchainTree: ${bin} is already tampered`);
  writeFileSync(bin, after);
  chmodSync(bin, 0o555);
  chmodSync(path.join(dir, 'bin'), 0o555);
  chmodSync(dir, 0o555);
}
