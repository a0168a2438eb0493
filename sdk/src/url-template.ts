import { SETTING_KEY } from './fields.ts';

/**
 * `${KEY}` placeholders in a manifest's `server.url` (and in the port of a policy `allowUrls`
 * entry): filled with the integration's resolved settings, so that a URL can follow a setting
 * (chat's `http://127.0.0.1:${CHAT_PORT}/mcp`, the port the gateway picked). Only `${` starts a
 * placeholder; a `$` alone is an ordinary character.
 */
const PLACEHOLDER = /\$\{([^}]*)\}/g;

/** The keys a template names, in order of first use. */
export function placeholdersOf(template: string): string[] {
  return [...new Set([...template.matchAll(PLACEHOLDER)].map((m) => m[1] ?? ''))];
}

/** What is wrong with the placeholders of `template` (`expected …`), or undefined. */
export function placeholderProblem(template: string): string | undefined {
  const keys = placeholdersOf(template);
  const bad = keys.find((key) => !SETTING_KEY.test(key));
  if (bad !== undefined || template.replace(PLACEHOLDER, '').includes(`\${`)) {
    return `expected placeholders written \${SETTING_KEY}, each naming a setting (e.g. \${CHAT_PORT})`;
  }
  return undefined;
}

/** The template with every placeholder filled; undefined when one of them has no value. */
export function fillPlaceholders(
  template: string,
  values: Readonly<Record<string, string | undefined>>,
): string | undefined {
  let missing = false;
  const filled = template.replace(PLACEHOLDER, (_match, key: string) => {
    const value = values[key];
    if (value === undefined || value === '') missing = true;
    return value ?? '';
  });
  return missing ? undefined : filled;
}

/**
 * Whether a template can become a valid URL of `isValid`: tried with every placeholder as `1`
 * (a port, a one-label host) and as `a` (part of a host name or path). A template that neither
 * makes valid is wrong whatever the settings say.
 */
export function templateCanBe(template: string, isValid: (value: string) => boolean): boolean {
  return ['1', 'a'].some((sample) => isValid(template.replace(PLACEHOLDER, sample)));
}
