import { describe, expect, it } from 'vitest';
import { DEFAULT_GO_SUM_FILES, InputError, parseInputs } from '../../src/action/inputs.js';

const getter =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? '';

describe('parseInputs', () => {
  it('uses the defaults for empty inputs', () => {
    const i = parseInputs(getter({}));
    expect(i).toMatchObject({
      keyPrefix: 'vgc-v1',
      environment: '',
      goSumFiles: DEFAULT_GO_SUM_FILES,
      goSumFilesIsDefault: true,
      workingDirectory: '.',
      onCorruption: 'rebuild',
      save: 'auto',
      lookupTimeoutMs: 30_000,
      saveTimeoutMs: 600_000,
    });
  });

  it('reads every input', () => {
    const i = parseInputs(
      getter({
        'key-prefix': 'team-a',
        environment: ' prod ',
        'go-sum-files': 'services/*/go.sum\n# a comment\n\ntools/go.sum\n',
        'working-directory': 'src',
        'on-corruption': 'FAIL',
        save: 'never',
        'lookup-timeout': '2.5',
        'save-timeout': '90',
      }),
    );
    expect(i).toMatchObject({
      keyPrefix: 'team-a',
      environment: 'prod',
      goSumFiles: ['services/*/go.sum', 'tools/go.sum'],
      goSumFilesIsDefault: false,
      workingDirectory: 'src',
      onCorruption: 'fail',
      save: 'never',
      lookupTimeoutMs: 2500,
      saveTimeoutMs: 90_000,
    });
  });

  it('treats the action.yml default text of go-sum-files as the default', () => {
    expect(
      parseInputs(getter({ 'go-sum-files': '**/go.sum\n**/go.work.sum\n' })).goSumFilesIsDefault,
    ).toBe(true);
  });

  it.each([
    [
      'on-corruption',
      'sometimes',
      /Input 'on-corruption': "sometimes" is not one of "rebuild", "fail". Set 'on-corruption: rebuild'/,
    ],
    ['save', 'always', /Input 'save': "always" is not one of "auto", "never"/],
    ['lookup-timeout', 'soon', /Input 'lookup-timeout': "soon" is not a number of seconds/],
    ['save-timeout', '-1', /Input 'save-timeout'/],
    [
      'go-sum-files',
      '../other/go.sum',
      /Input 'go-sum-files': "..\/other\/go.sum" must be a glob relative to working-directory/,
    ],
    ['go-sum-files', '/abs/go.sum', /must be a glob relative/],
    ['key-prefix', 'x'.repeat(65), /Input 'key-prefix': is 65 characters/],
  ])('rejects %s=%s with an error naming the input and the fix', (name, value, message) => {
    let err: unknown;
    try {
      parseInputs(getter({ [name]: value }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InputError);
    expect((err as InputError).input).toBe(name);
    expect((err as Error).message).toMatch(message);
  });
});
