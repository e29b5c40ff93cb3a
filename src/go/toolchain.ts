/**
 * The Go toolchain: finding it and running it.
 */
import * as exec from '@actions/exec';
import * as io from '@actions/io';

export class GoMissingError extends Error {
  constructor() {
    super(
      'Go was not found on PATH. Install it in an earlier step, for example ' +
        "'uses: actions/setup-go@v6' with 'cache: false' (let verified-go-cache own the module cache), " +
        'and put verified-go-cache after it.',
    );
    this.name = 'GoMissingError';
  }
}

export interface GoResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class Go {
  private constructor(readonly bin: string) {}

  static async find(): Promise<Go> {
    const bin = await io.which('go', false);
    if (!bin) throw new GoMissingError();
    return new Go(bin);
  }

  static async tryFind(): Promise<Go | undefined> {
    const bin = await io.which('go', false);
    return bin ? new Go(bin) : undefined;
  }

  /**
   * Runs the go command the job was given. GOTOOLCHAIN=local unless `env` says
   * otherwise: a toolchain in the module cache is only ever executed after it
   * was verified (with GOTOOLCHAIN=auto, Go would switch to a cached
   * `golang.org/toolchain` module and run its `bin/go`, whatever it holds).
   */
  async run(args: string[], cwd: string, env?: Record<string, string>): Promise<GoResult> {
    const r = await exec.getExecOutput(this.bin, args, {
      cwd,
      ignoreReturnCode: true,
      silent: true,
      env: { ...(process.env as Record<string, string>), GOTOOLCHAIN: 'local', ...(env ?? {}) },
    });
    return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  }

  /** One `go env -json` for the settings main needs, plus any `extra` names (in `all`). */
  async env(
    cwd: string,
    extra: readonly string[] = [],
  ): Promise<{
    GOMODCACHE: string;
    GOVERSION: string;
    GOWORK: string;
    GOHOSTOS: string;
    GOHOSTARCH: string;
    all: Record<string, string>;
  }> {
    const r = await this.run(
      ['env', '-json', 'GOMODCACHE', 'GOVERSION', 'GOWORK', 'GOHOSTOS', 'GOHOSTARCH', ...extra],
      cwd,
    );
    if (r.code !== 0) {
      throw new Error(`'go env' failed (exit ${r.code}): ${r.stderr.trim()}`);
    }
    const parsed = JSON.parse(r.stdout) as Record<string, string>;
    return {
      GOMODCACHE: parsed['GOMODCACHE'] ?? '',
      GOVERSION: parsed['GOVERSION'] ?? '',
      GOWORK: parsed['GOWORK'] ?? '',
      GOHOSTOS: parsed['GOHOSTOS'] ?? '',
      GOHOSTARCH: parsed['GOHOSTARCH'] ?? '',
      all: parsed,
    };
  }
}
