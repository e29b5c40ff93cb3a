/**
 * Credentials in the job's Go settings are registered with the runner as
 * secrets (it then masks them in every log line, this action's and later
 * steps'), and the settings that route and check modules are logged with
 * their userinfo masked, so a reader sees where modules come from.
 */
import * as core from '@actions/core';
import { maskUserinfo, secretsInEnv, URL_VARIABLES } from '../go/credentials.js';
import type { Go } from '../go/toolchain.js';

/** Registers every userinfo (and its password) found in the Go URL variables of `env`. */
export function registerCredentialSecrets(env: Record<string, string | undefined>): void {
  for (const s of secretsInEnv(env)) core.setSecret(s);
}

/**
 * Asks Go for its view of the module sources (the environment and the go env
 * file together), registers any credentials in it, and logs it masked.
 */
export async function logModuleSources(go: Go, cwd: string): Promise<void> {
  const r = await go.run(['env', '-json', ...URL_VARIABLES, 'GOAUTH'], cwd);
  if (r.code !== 0) return;
  let values: Record<string, string>;
  try {
    values = JSON.parse(r.stdout) as Record<string, string>;
  } catch {
    return;
  }
  registerCredentialSecrets(values);
  const shown = [...URL_VARIABLES, 'GOAUTH']
    .filter((name) => values[name])
    // GOAUTH is shown by method only: a command line may carry a token.
    .map((name) =>
      name === 'GOAUTH'
        ? `GOAUTH=${values[name] === 'netrc' ? 'netrc' : '(set)'}`
        : `${name}=${maskUserinfo(values[name]!)}`,
    );
  core.info(`Module sources: ${shown.join(' ')}`);
}
