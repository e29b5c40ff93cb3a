import { describe, expect, it } from 'vitest';
import { InputError, parseDriftInputs, parseInputs } from '../../src/action/inputs.js';

const getter =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? '';

describe('drift inputs', () => {
  it('default to no baseline and never failing', () => {
    expect(parseInputs(getter({}))).toMatchObject({
      driftBaseline: { kind: 'none' },
      failOnDrift: 'never',
    });
  });

  it.each([
    ['default-branch', { kind: 'default-branch' }],
    [' Default-Branch ', { kind: 'default-branch' }],
    ['none', { kind: 'none' }],
    ['baseline/go.sum', { kind: 'go.sum', path: 'baseline/go.sum' }],
    ['../release/go.work.sum', { kind: 'go.sum', path: '../release/go.work.sum' }],
  ])('drift-baseline %j', (raw, want) => {
    expect(parseDriftInputs(getter({ 'drift-baseline': raw })).driftBaseline).toEqual(want);
  });

  it.each(['critical', 'warning', 'never', 'CRITICAL'])('fail-on-drift %s', (raw) => {
    expect(parseDriftInputs(getter({ 'fail-on-drift': raw })).failOnDrift).toBe(raw.toLowerCase());
  });

  it.each([
    ['drift-baseline', 'default_branch', /neither "none", "default-branch" nor a path to a go.sum/],
    ['drift-baseline', '/abs/go.sum', /relative to working-directory/],
    ['fail-on-drift', 'error', /"error" is not one of "critical", "warning", "never"/],
  ])('%s %j is an error naming the input and the fix', (name, raw, message) => {
    let caught: unknown;
    try {
      parseDriftInputs(getter({ [name]: raw }));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(InputError);
    expect((caught as Error).message).toContain(name);
    expect((caught as Error).message).toMatch(message);
  });
});
