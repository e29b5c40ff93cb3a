/**
 * Credentials in the job's Go settings are registered with the runner as
 * secrets (it then masks them in every log line, this action's and later
 * steps'), and the settings that route and check modules are logged with
 * their userinfo masked, so a reader sees where modules come from.
 */
import * as core from '@actions/core';
import { maskUserinfo, secretsInEnv, URL_VARIABLES } from '../go/credentials.js';

/** The `go env` names logModuleSources reads: ask for them in main's one `go env`. */
export const MODULE_SOURCE_VARIABLES = [...URL_VARIABLES, 'GOAUTH'] as const;

/** Registers every userinfo (and its password) found in the Go URL variables of `env`. */
export function registerCredentialSecrets(env: Record<string, string | undefined>): void {
  for (const s of secretsInEnv(env)) core.setSecret(s);
}

/**
 * Takes Go's view of the module sources (the environment and the go env file
 * together, from main's `go env`), registers any credentials in it, and logs
 * it masked.
 */
export function logModuleSources(values: Record<string, string>): void {
  registerCredentialSecrets(values);
  const shown = MODULE_SOURCE_VARIABLES.filter((name) => values[name])
    // GOAUTH is shown by method only: a command line may carry a token.
    .map((name) =>
      name === 'GOAUTH'
        ? `GOAUTH=${values[name] === 'netrc' ? 'netrc' : '(set)'}`
        : `${name}=${maskUserinfo(values[name]!)}`,
    );
  core.info(`Module sources: ${shown.join(' ')}`);
}
