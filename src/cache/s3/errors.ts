/**
 * What an S3 failure means for the job, in words that say what to fix. Pure.
 * Never quotes a credential: only the names of the variables and roles the
 * AWS SDK's default chain reads.
 */

export type S3Trouble =
  | 'credentials'
  | 'forbidden'
  | 'no-bucket'
  | 'conflict'
  | 'not-found'
  | 'throttled'
  | 'timeout'
  | 'unreachable'
  | 'other';

export const CREDENTIALS_HINT =
  'the AWS SDK default chain: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN ' +
  'for temporary keys), or AWS_ROLE_ARN with AWS_WEB_IDENTITY_TOKEN_FILE as ' +
  'aws-actions/configure-aws-credentials sets them, or the instance or pod role of the runner';

interface SdkError {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
  cause?: unknown;
}

/** The network error code under an SDK error (ECONNREFUSED...), if any. */
function networkCode(e: SdkError): string | undefined {
  for (let cur: unknown = e, i = 0; cur && i < 4; cur = (cur as SdkError).cause, i++) {
    const code = (cur as SdkError).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
  }
  return undefined;
}

export function classify(e: unknown): S3Trouble {
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? err.Code ?? '';
  const status = err.$metadata?.httpStatusCode;
  if (/^(PreconditionFailed|ConditionalRequestConflict)$/.test(name) || status === 412) {
    return 'conflict';
  }
  if (
    /^(InvalidAccessKeyId|SignatureDoesNotMatch|ExpiredToken|InvalidToken|TokenRefreshRequired|CredentialsProviderError|InvalidClientTokenId|AuthorizationHeaderMalformed)$/.test(
      name,
    ) ||
    /Could not load credentials|credential/i.test(err.message ?? '')
  ) {
    return 'credentials';
  }
  if (name === 'AccessDenied' || status === 403) return 'forbidden';
  if (name === 'NoSuchBucket') return 'no-bucket';
  if (name === 'NotFound' || name === 'NoSuchKey' || status === 404) return 'not-found';
  if (name === 'AbortError' || name === 'TimeoutError' || /aborted/i.test(err.message ?? '')) {
    return 'timeout';
  }
  if (
    /^(SlowDown|ServiceUnavailable|Throttling|ThrottlingException|RequestLimitExceeded)$/.test(
      name,
    ) ||
    status === 503
  ) {
    return 'throttled';
  }
  if (networkCode(err)) return 'unreachable';
  return 'other';
}

/** A URL without user info, for messages. */
export function safeEndpoint(endpoint: string | undefined): string {
  if (!endpoint) return 'the AWS S3 endpoint of the region';
  try {
    const u = new URL(endpoint);
    u.username = '';
    u.password = '';
    return u.origin;
  } catch {
    return 'the s3-endpoint';
  }
}

/**
 * One sentence on why `what` (lookup, save, list, delete) failed against
 * bucket `bucket`, naming what to fix.
 */
export function describeS3Error(
  e: unknown,
  o: { what: string; bucket: string; endpoint?: string; timeoutMs?: number },
): string {
  const err = (e ?? {}) as SdkError;
  const name = err.name ?? 'Error';
  const where = `bucket '${o.bucket}' at ${safeEndpoint(o.endpoint)}`;
  switch (classify(e)) {
    case 'credentials':
      return (
        `the S3 store refused the credentials for the ${o.what} (${name}); check what the runner ` +
        `provides through ${CREDENTIALS_HINT}`
      );
    case 'forbidden':
      return (
        `the S3 store denied the ${o.what} in ${where} (${name}); the credentials lack the ` +
        `permission for it (see the README's IAM policy: s3:ListBucket and s3:GetObject to ` +
        `restore, s3:PutObject and s3:AbortMultipartUpload to save, s3:DeleteObject for health mode)`
      );
    case 'no-bucket':
      return `${where} does not exist; create it or fix the 's3-bucket' input`;
    case 'timeout':
      return `the S3 ${o.what} did not finish within ${Math.round((o.timeoutMs ?? 0) / 1000)} s (${where})`;
    case 'throttled':
      return `the S3 store kept answering ${name} (throttled or unavailable) to the ${o.what} (${where})`;
    case 'unreachable':
      return `cannot reach ${safeEndpoint(o.endpoint)} for the S3 ${o.what} (${networkCode(err)}); check 's3-endpoint' and that the store is up`;
    default: {
      const first = (err.message ?? String(e)).split('\n')[0]!.slice(0, 200);
      return `the S3 ${o.what} failed in ${where}: ${name}: ${first}`;
    }
  }
}
