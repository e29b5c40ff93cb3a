/**
 * Credentials Go may be handed for private modules, kept out of everything the
 * action writes. Pure.
 *
 * Go takes credentials from a netrc file (NETRC, else `$HOME/.netrc`), from
 * GOAUTH (Go 1.24+: `off`, `netrc`, `git <dir>` or a command printing
 * headers; entries separated by `;`), and from userinfo in a GOPROXY URL
 * (`https://user:token@proxy/`). Only the last one is ever in a value the
 * action reads and might show; it is masked wherever a value is shown and
 * registered as a secret with the runner. The others are named, never read.
 */

/** Go variables whose values may hold URLs, and so userinfo. */
export const URL_VARIABLES = [
  'GOPROXY',
  'GOFLAGS',
  'GOSUMDB',
  'GONOPROXY',
  'GOPRIVATE',
  'GONOSUMDB',
  'GOINSECURE',
] as const;

/** `scheme://userinfo@`: the userinfo ends at the first `@` before any `/`, space, `,` or `|`. */
const USERINFO = /([a-z][a-z0-9+.-]*:\/\/)([^\s/@,|]+)@/gi;

/** The text with the userinfo of every URL in it replaced by `***`. */
export function maskUserinfo(text: string): string {
  return text.replace(USERINFO, '$1***@');
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * What to register as secrets for the userinfo in `text`: the whole userinfo,
 * the password alone (or the user, when there is no password: a token used as
 * the user name), each also percent-decoded. Strings shorter than 4
 * characters are left out (masking them would blank unrelated words).
 */
export function userinfoSecrets(text: string): string[] {
  const out = new Set<string>();
  for (const m of text.matchAll(USERINFO)) {
    const info = m[2] as string;
    const colon = info.indexOf(':');
    const secret = colon >= 0 ? info.slice(colon + 1) : info;
    for (const s of [info, secret]) {
      out.add(s);
      out.add(decoded(s));
    }
  }
  return [...out].filter((s) => s.length >= 4);
}

/** Every secret in the URL variables of an environment. */
export function secretsInEnv(env: Record<string, string | undefined>): string[] {
  const out = new Set<string>();
  for (const name of URL_VARIABLES) {
    for (const s of userinfoSecrets(env[name] ?? '')) out.add(s);
  }
  return [...out];
}

/** What the action can see of how credentials reach Go, without reading any of them. */
export interface CredentialFacts {
  env: Record<string, string | undefined>;
  /** The file NETRC names exists. */
  netrcFileExists: boolean;
  /** `$HOME/.netrc` exists. */
  homeNetrcExists: boolean;
}

/** How GOAUTH hands out credentials, by method, never the command's words. */
function goAuthMethods(value: string): string {
  const methods = value
    .split(';')
    .map((c) => c.trim().split(/\s+/)[0] ?? '')
    .filter((w) => w !== '')
    .map((w) => (w === 'off' || w === 'netrc' || w === 'git' ? w : 'a command'));
  return [...new Set(methods)].join(', ');
}

/**
 * The credential sources Go would use, named for a message: which variables
 * are set and which files exist, never a value. Empty when there are none.
 */
export function credentialSources(f: CredentialFacts): string[] {
  const out: string[] = [];
  const goauth = f.env['GOAUTH']?.trim();
  const netrcOff = goauth !== undefined && goauth !== '' && !/(^|;)\s*netrc\s*(;|$)/.test(goauth);
  if (f.env['NETRC']) {
    out.push(`NETRC is set (${f.netrcFileExists ? 'the file exists' : 'but names no file'})`);
  } else if (f.homeNetrcExists) {
    out.push('a .netrc in HOME');
  }
  if (goauth) {
    out.push(
      `GOAUTH is set (${goAuthMethods(goauth)})` +
        (netrcOff && (f.env['NETRC'] || f.homeNetrcExists)
          ? '; it does not list netrc, so Go ignores the netrc file'
          : ''),
    );
  }
  for (const name of ['GOPROXY', 'GOFLAGS'] as const) {
    if (userinfoSecrets(f.env[name] ?? '').length > 0) out.push(`userinfo in ${name}`);
  }
  return out;
}
