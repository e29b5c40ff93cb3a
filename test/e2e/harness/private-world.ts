/**
 * A test world with private modules (test/e2e/private*.test.ts): the public
 * file proxy and cache service of World, a company proxy (auth-proxy.ts)
 * serving two private modules, a private module in a local git repository
 * (git-modules.ts), a REST API for health mode, and a project requiring all of
 * them with a go.sum the real go command wrote.
 *
 *   const pw = await PrivateWorld.create();
 *   const r = pw.runnerFor('GOAUTH');          // a fresh HOME and the env handing over credentials
 *   const job = await pw.world.job({ project: pw.project, home: r.home, env: r.env, inputs });
 */
import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { AuthProxy } from './auth-proxy.js';
import { createGitModules, type GitModules } from './git-modules.js';
import { RestApi } from './rest-api.js';
import { REPO_ROOT } from './runner.js';
import { World } from './world.js';

export const USER = 'ci-bot';
/** The credential no file, log or entry the action writes may contain. */
export const SECRET = 'tok-5up3r-s3cr3t-p4ss';

export const AUTH = { path: 'corp.example.test/platform/auth', version: 'v1.0.0' };
export const LOG = { path: 'corp.example.test/platform/log', version: 'v1.2.0' };
export const LIB = { path: 'git.internal.test/team/lib.git', version: 'v1.1.0' };
export const PRIVATE_IDS = [AUTH, LOG, LIB].map((m) => `${m.path}@${m.version}`);
/** Module versions with trees in the project: 4 public, 2 from the company proxy, 1 from git. */
export const MODULES = 7;

/** Offline: no proxy at all, and no VCS may run (private git modules bypass GOPROXY). */
export const OFFLINE = { GOPROXY: 'off', GOVCS: '*:off' };

export type Credentials = 'netrc-in-home' | 'NETRC' | 'GOAUTH' | 'userinfo' | 'none';

export function goFile(pkg: string, n: number): Record<string, string> {
  return { [`${pkg}.go`]: `package ${pkg}\n\nfunc F() int { return ${n} }\n` };
}

export class PrivateWorld {
  private runners = 0;

  private constructor(
    readonly world: World,
    readonly proxy: AuthProxy,
    readonly git: GitModules,
    readonly api: RestApi,
    readonly project: string,
  ) {}

  static async create(): Promise<PrivateWorld> {
    const world = await World.create({ modules: 4 });
    const proxy = await AuthProxy.start(path.join(world.root, 'company-proxy'), {
      user: USER,
      password: SECRET,
    });
    proxy.publish({
      ...AUTH,
      goMod: `module ${AUTH.path}\n\ngo 1.21\n`,
      files: goFile('auth', 100),
    });
    proxy.publish({
      ...LOG,
      goMod: `module ${LOG.path}\n\ngo 1.21\n\nrequire ${AUTH.path} ${AUTH.version}\n`,
      files: {
        'log.go': `package log\n\nimport a "${AUTH.path}"\n\nfunc F() int { return a.F() + 1 }\n`,
      },
    });
    const git = createGitModules(path.join(world.root, 'git'), [
      {
        path: LIB.path,
        versions: [
          { version: 'v1.0.0', files: goFile('lib', 10) },
          { version: 'v1.1.0', files: goFile('lib', 11) },
        ],
      },
    ]);
    const api = new RestApi(world.server);
    await api.start();
    const pw = new PrivateWorld(world, proxy, git, api, path.join(world.root, 'private-project'));
    const requires: Record<string, string> = {
      [AUTH.path]: AUTH.version,
      [LOG.path]: LOG.version,
      [LIB.path]: LIB.version,
    };
    for (const p of world.set.plain) requires[p] = 'v1.0.0';
    await pw.writeProject(pw.project, requires);
    return pw;
  }

  /**
   * Writes a project requiring `requires` with go.sum from the real go command,
   * in a child process: goproxy.ts runs go synchronously, and the proxy
   * answers from this process.
   */
  async writeProject(dir: string, requires: Record<string, string>): Promise<void> {
    const script = path.join(this.world.root, `write-project-${++this.runners}.mts`);
    writeFileSync(
      script,
      `import { writeProject } from ${JSON.stringify(path.join(REPO_ROOT, 'test/e2e/harness/goproxy.ts'))};\n` +
        `writeProject(${JSON.stringify(dir)}, 'example.com/app', ${JSON.stringify(requires)}, process.env);\n`,
    );
    const env = {
      ...this.world.toolEnv(),
      ...this.privateEnv(),
      NETRC: this.proxy.writeNetrc(path.join(this.world.root, 'tool-netrc')),
    };
    await new Promise<void>((resolve, reject) => {
      execFile(
        path.join(REPO_ROOT, 'node_modules/.bin/tsx'),
        [script],
        { env: env as Record<string, string> },
        (err, _out, stderr) => (err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve()),
      );
    });
  }

  /**
   * What a job with private modules sets: the company proxy first (it answers
   * 404 for public modules, so Go falls through to the public one), GOPRIVATE
   * for both private hosts, GONOPROXY for the git host only (the company
   * proxy serves corp.example.test), and git's URL rewriting.
   */
  privateEnv(): Record<string, string> {
    return {
      ...this.git.env,
      GOPROXY: `${this.proxy.url},${this.world.proxyUrl}`,
      GOPRIVATE: 'corp.example.test,git.internal.test',
      GONOPROXY: 'git.internal.test',
      GONOSUMDB: 'corp.example.test,git.internal.test',
      SSL_CERT_FILE: this.proxy.certFile,
    };
  }

  /**
   * A fresh runner HOME and the environment that hands the job its
   * credentials one way (`password` to hand over a wrong one).
   */
  runnerFor(
    how: Credentials,
    password?: string,
  ): { home: string; env: Record<string, string>; dir: string } {
    const dir = path.join(this.world.root, 'runners', `r${++this.runners}`);
    const home = path.join(dir, 'home');
    mkdirSync(home, { recursive: true });
    const env = this.privateEnv();
    const secrets = path.join(dir, 'secrets');
    const p = this.proxy;
    if (how === 'netrc-in-home') p.writeNetrc(home, password);
    if (how === 'NETRC') env['NETRC'] = p.writeNetrc(secrets, password, 'netrc');
    if (how === 'GOAUTH') env['GOAUTH'] = p.goAuthCommand(secrets, password);
    if (how === 'userinfo') {
      const url = password ? p.urlWithUserinfo.replace(SECRET, password) : p.urlWithUserinfo;
      env['GOPROXY'] = `${url},${this.world.proxyUrl}`;
    }
    return { home, env, dir };
  }

  /** A job of `environment` on a fresh runner handing over credentials `how`, plus `env`. */
  job(
    how: Credentials,
    environment: string,
    o: {
      env?: Record<string, string>;
      inputs?: Record<string, string>;
      stepsAfterMain?: string[];
      project?: string;
      password?: string;
    } = {},
  ): ReturnType<World['job']> {
    const r = this.runnerFor(how, o.password);
    return this.world.job({
      project: o.project ?? this.project,
      home: r.home,
      env: { ...r.env, ...(o.env ?? {}) },
      inputs: { environment, ...(o.inputs ?? {}) },
      ...(o.stepsAfterMain ? { stepsAfterMain: o.stepsAfterMain } : {}),
    });
  }

  /** A health-mode run over `environment` on a fresh runner. */
  health(how: Credentials, environment: string, env: Record<string, string> = {}) {
    return this.job(how, environment, {
      env: { ...this.api.envFor(), ...env },
      inputs: { mode: 'health', environments: environment, 'github-token': 'read-token' },
    });
  }

  async dispose(): Promise<void> {
    await this.api.stop();
    await this.proxy.stop();
    await this.world.dispose();
  }
}
