/**
 * Secrets never leave the box in a bundle. Two passes, because logs are free text: by field name
 * (keys, tokens, passwords, signatures, connection strings) through the structure, then by
 * pattern and by the literal secrets the agent holds (its device key, plain and URL-encoded)
 * through every file's final text.
 */
const SECRET_FIELD = /(key|password|passphrase|secret|token|signature|sas|sig)$/i;
const HIDDEN = '***';

/** A deep copy with secret-named string fields hidden and connection strings' keys masked. */
export function redactFields<T>(value: T): T {
  return JSON.parse(
    JSON.stringify(value, (key, v: unknown) => {
      if (typeof v !== 'string') return v;
      if (/connectionString$/i.test(key)) return maskPatterns(v);
      if (SECRET_FIELD.test(key)) return HIDDEN;
      return v;
    }),
  ) as T;
}

/** Masks what looks like a credential wherever it appears in text. */
export function maskPatterns(text: string): string {
  return text
    .replace(/(SharedAccessKey=)[^;"\s]+/gi, `$1${HIDDEN}`)
    .replace(/(SharedAccessSignature )[^"\s]+/g, `$1${HIDDEN}`)
    .replace(/([?&]sig=)[^&"\s]+/g, `$1${HIDDEN}`)
    .replace(/(-----BEGIN [A-Z ]*PRIVATE KEY-----)[\s\S]*?(-----END [A-Z ]*PRIVATE KEY-----)/g, `$1${HIDDEN}$2`);
}

/** Masks patterns, then every literal secret in its plain, JSON-escaped and URL-encoded forms. */
export function redactText(text: string, secrets: readonly string[]): string {
  let out = maskPatterns(text);
  for (const s of secrets) {
    if (s.length < 8) continue; // too short to be a key; masking it would garble the text
    for (const form of new Set([s, JSON.stringify(s).slice(1, -1), encodeURIComponent(s)])) out = out.split(form).join(HIDDEN);
  }
  return out;
}

/**
 * Every literal secret a config holds: the key of each connection string, and each string under
 * a secret-named field (device keys, group keys, passphrases…), whatever section adds them.
 */
export function secretsIn(config: unknown): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key: string): void => {
    if (typeof v === 'string') {
      if (/connectionString$/i.test(key)) for (const m of v.matchAll(/SharedAccessKey=([^;]+)/gi)) out.add(m[1]!.trim());
      else if (SECRET_FIELD.test(key)) out.add(v);
      return;
    }
    if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (typeof v === 'object' && v !== null) for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(config, '');
  return [...out];
}
