/**
 * What every stage derives from the runner's environment and the inputs.
 */
import * as core from '@actions/core';
import * as path from 'node:path';
import { useStoreFor } from '../cache/active-store.js';
import { branchFromEnv, platformFromEnv, type KeyParts } from '../cache/key.js';
import { parseInputs, type Inputs } from './inputs.js';

export interface Context {
  inputs: Inputs;
  workspace: string;
  workingDirectory: string;
  keyParts: KeyParts;
  runId: string;
  runAttempt: string;
}

export function loadContext(env: NodeJS.ProcessEnv = process.env): Context {
  const inputs = parseInputs((name) => core.getInput(name));
  // Every stage's lookups and saves go to the store the `backend` input names.
  useStoreFor(inputs.backend, inputs.s3, env);
  const workspace = env['GITHUB_WORKSPACE'] || process.cwd();
  const { os, arch } = platformFromEnv(env, process.platform, process.arch);
  return {
    inputs,
    workspace,
    workingDirectory: path.resolve(workspace, inputs.workingDirectory),
    keyParts: {
      prefix: inputs.keyPrefix,
      os,
      arch,
      environment: inputs.environment,
      branch: branchFromEnv(env),
    },
    runId: env['GITHUB_RUN_ID'] || String(Date.now()),
    runAttempt: env['GITHUB_RUN_ATTEMPT'] || '1',
  };
}
