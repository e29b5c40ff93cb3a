/**
 * The `backend` input and the S3 store's inputs, validated. Pure (takes a
 * getter). No input holds a credential: the AWS SDK's default chain supplies
 * them, and an endpoint URL that carries any is refused.
 */
import { InputError } from '../errors.js';
import type { S3Options } from '../cache/s3/store.js';

export type Backend = 'github' | 's3';

type Getter = (name: string) => string;

const S3_INPUTS = ['s3-bucket', 's3-prefix', 's3-region', 's3-endpoint', 's3-force-path-style'];

export function parseBackend(get: Getter): { backend: Backend; s3?: S3Options } {
  const raw = get('backend').trim().toLowerCase();
  if (raw !== '' && raw !== 'github' && raw !== 's3') {
    throw new InputError(
      'backend',
      `"${get('backend').trim()}" is not one of "github", "s3". Set 'backend: github' (the ` +
        "default, GitHub's cache service) or 'backend: s3' with 's3-bucket'.",
    );
  }
  const backend: Backend = raw === 's3' ? 's3' : 'github';
  if (backend === 'github') {
    const stray = S3_INPUTS.find(
      (n) => get(n).trim() !== '' && !(n === 's3-force-path-style' && get(n).trim() === 'false'),
    );
    if (stray) {
      throw new InputError(
        stray,
        `is set but 'backend' is 'github', which ignores it. Add 'backend: s3' to use the S3 ` +
          `store, or remove '${stray}'.`,
      );
    }
    return { backend };
  }
  const bucket = get('s3-bucket').trim();
  if (bucket === '') {
    throw new InputError(
      's3-bucket',
      "is required with 'backend: s3'. Set 's3-bucket: <bucket name>' (the bucket must exist).",
    );
  }
  if (!/^[A-Za-z0-9._-]{1,255}$/.test(bucket)) {
    throw new InputError(
      's3-bucket',
      `"${bucket}" is not a bucket name: use the bare name (letters, digits, '.', '-', '_'), ` +
        "not a URL or a path; put a folder in 's3-prefix'.",
    );
  }
  const prefix = get('s3-prefix').trim();
  if (
    prefix.length > 256 ||
    /[\0\\]/.test(prefix) ||
    prefix.split('/').some((p) => p === '..' || p === '.')
  ) {
    throw new InputError(
      's3-prefix',
      `"${prefix}" must be a folder path inside the bucket (up to 256 characters, '/'-separated, ` +
        "no '.' or '..' parts, no backslashes), for example 's3-prefix: go-cache'.",
    );
  }
  const region = get('s3-region').trim();
  if (region !== '' && !/^[a-z0-9-]{1,64}$/.test(region)) {
    throw new InputError(
      's3-region',
      `"${region}" is not a region name; use for example 's3-region: eu-west-1' (any value ` +
        'for stores that ignore it, such as MinIO).',
    );
  }
  const endpoint = get('s3-endpoint').trim();
  if (endpoint !== '') {
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new InputError(
        's3-endpoint',
        `"${endpoint}" is not a URL; use for example 's3-endpoint: http://minio.minio.svc:9000'.`,
      );
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InputError(
        's3-endpoint',
        `must be an http:// or https:// URL, got "${url.protocol}".`,
      );
    }
    if (url.username || url.password) {
      // Never echo it back: it holds a credential.
      throw new InputError(
        's3-endpoint',
        'carries credentials in the URL. Remove them and provide AWS_ACCESS_KEY_ID and ' +
          'AWS_SECRET_ACCESS_KEY (or a role) through the environment instead.',
      );
    }
  }
  const style = get('s3-force-path-style').trim().toLowerCase();
  if (style !== '' && style !== 'true' && style !== 'false') {
    throw new InputError(
      's3-force-path-style',
      `"${get('s3-force-path-style').trim()}" is not "true" or "false". Set 'true' for MinIO, ` +
        "Ceph and most self-hosted stores (path-style URLs), or leave the default 'false'.",
    );
  }
  return {
    backend,
    s3: { bucket, prefix, region, endpoint, forcePathStyle: style === 'true' },
  };
}
