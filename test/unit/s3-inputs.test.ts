import { describe, expect, it } from 'vitest';
import { parseBackend } from '../../src/action/s3-inputs.js';
import { parseInputs } from '../../src/action/inputs.js';
import { classify, describeS3Error } from '../../src/cache/s3/errors.js';

const getter =
  (values: Record<string, string>) =>
  (name: string): string =>
    values[name] ?? '';

describe('backend inputs', () => {
  it('default to GitHub', () => {
    expect(parseInputs(getter({}))).toMatchObject({ backend: 'github' });
    expect(parseBackend(getter({ 's3-force-path-style': 'false' }))).toEqual({
      backend: 'github',
    });
  });

  it('s3 with a bucket gives the store its options', () => {
    expect(
      parseBackend(
        getter({
          backend: 'S3',
          's3-bucket': 'ci-cache',
          's3-prefix': 'go/app',
          's3-region': 'eu-west-1',
          's3-endpoint': 'http://minio.minio.svc:9000',
          's3-force-path-style': 'true',
        }),
      ),
    ).toEqual({
      backend: 's3',
      s3: {
        bucket: 'ci-cache',
        prefix: 'go/app',
        region: 'eu-west-1',
        endpoint: 'http://minio.minio.svc:9000',
        forcePathStyle: true,
      },
    });
  });

  it.each([
    [{ backend: 'gcs' }, "Input 'backend'", "'backend: s3'"],
    [{ backend: 's3' }, "Input 's3-bucket'", 'is required with'],
    [{ backend: 's3', 's3-bucket': 's3://b/p' }, "Input 's3-bucket'", "'s3-prefix'"],
    [{ 's3-bucket': 'b' }, "Input 's3-bucket'", "Add 'backend: s3'"],
    [{ backend: 's3', 's3-bucket': 'b', 's3-prefix': 'a/../b' }, "Input 's3-prefix'", "'..'"],
    [{ backend: 's3', 's3-bucket': 'b', 's3-region': 'EU West' }, "Input 's3-region'", 'eu-west-1'],
    [
      { backend: 's3', 's3-bucket': 'b', 's3-endpoint': 'minio:9000' },
      "Input 's3-endpoint'",
      'http',
    ],
    [
      { backend: 's3', 's3-bucket': 'b', 's3-force-path-style': 'yes' },
      "Input 's3-force-path-style'",
      "'true'",
    ],
  ])('%j is refused naming the input and the fix', (values, input, fix) => {
    expect(() => parseBackend(getter(values))).toThrow(input);
    expect(() => parseBackend(getter(values))).toThrow(fix);
  });

  it('an endpoint carrying credentials is refused without echoing them', () => {
    const values = {
      backend: 's3',
      's3-bucket': 'b',
      's3-endpoint': 'http://AKIA:s3cr3t@minio:9000',
    };
    let message = '';
    try {
      parseBackend(getter(values));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain('AWS_ACCESS_KEY_ID');
    expect(message).not.toContain('s3cr3t');
  });
});

describe('S3 errors', () => {
  const err = (name: string, status?: number, code?: string) =>
    Object.assign(new Error(`${name} happened`), {
      name,
      $metadata: { httpStatusCode: status },
      ...(code ? { cause: Object.assign(new Error('net'), { code }) } : {}),
    });

  it('classifies what the job needs to know', () => {
    expect(classify(err('PreconditionFailed', 412))).toBe('conflict');
    expect(classify(err('SignatureDoesNotMatch', 403))).toBe('credentials');
    expect(classify(err('AccessDenied', 403))).toBe('forbidden');
    expect(classify(err('NotFound', 404))).toBe('not-found');
    expect(classify(err('SlowDown', 503))).toBe('throttled');
    expect(classify(err('Error', undefined, 'ECONNREFUSED'))).toBe('unreachable');
    expect(classify(err('TimeoutError'))).toBe('timeout');
  });

  it('names what to fix, never a value, and strips user info from the endpoint', () => {
    const o = { what: 'lookup', bucket: 'b', endpoint: 'http://u:pw@127.0.0.1:9000/x' };
    const creds = describeS3Error(err('InvalidAccessKeyId', 403), o);
    expect(creds).toContain('AWS_ACCESS_KEY_ID');
    expect(creds).toContain('AWS_ROLE_ARN');
    const down = describeS3Error(err('Error', undefined, 'ECONNREFUSED'), o);
    expect(down).toContain('cannot reach http://127.0.0.1:9000');
    expect(down).not.toContain('pw');
    expect(describeS3Error(err('NoSuchBucket', 404), o)).toContain("'s3-bucket'");
  });
});
