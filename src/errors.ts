/**
 * Errors every layer may raise. An InputError names the action input that is
 * wrong and says how to fix it; stages turn it into a failed step.
 */
export class InputError extends Error {
  constructor(
    readonly input: string,
    message: string,
  ) {
    super(`Input '${input}': ${message}`);
    this.name = 'InputError';
  }
}
