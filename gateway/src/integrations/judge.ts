import type { InvalidSetting } from '@switchboard/policy';
import type { Manifest } from '@switchboard/sdk';
import type { ResolvedSetting } from '../settings/resolve.ts';
import { signingSecretProblem } from './signing-secret.ts';

/**
 * The checks of an integration that need the gateway's own knowledge, beside the policy's pure
 * decide(): whether its webhooks' signing secrets can be used by their schemes (before any
 * delivery arrives), and whether the tools its manifest names exist on the server (once it
 * listed them).
 */

/** Why an integration is refused or failed: a reason code and a message naming the cause. */
export interface Reason {
  code: string;
  message: string;
}

/** Signing secrets the scheme cannot verify with, for decide() to refuse as `setting_invalid`. */
export function unusableSigningSecrets(
  manifest: Manifest,
  settings: ResolvedSetting[],
): InvalidSetting[] {
  const values = new Map(settings.map((s) => [s.key, s.value]));
  const out: InvalidSetting[] = [];
  for (const [index, webhook] of manifest.webhooks.entries()) {
    const { scheme, secret } = webhook.verify;
    const value = secret === undefined ? undefined : values.get(secret);
    // An unset secret is setting_missing already (webhook secrets are declared required).
    if (secret === undefined || value === undefined || value === '') continue;
    const problem = signingSecretProblem(scheme, value);
    if (problem) {
      out.push({
        key: secret,
        usedBy: `webhooks[${index}] "${webhook.name}", scheme ${scheme}`,
        problem,
      });
    }
  }
  return out;
}

/** A reason line stays readable: 20 tool names, then how many more. */
const MAX_LISTED_TOOLS = 20;

function joinAnd(items: string[]): string {
  return items.length <= 1
    ? (items[0] ?? '')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/**
 * One `handler_missing` per tool that a webhook, dispatcher or schedule `handler`, a panel's
 * or an event hook's `tool`, or a
 * `tools.hidden` entry, names and the server does not list: such a handler would fail only at
 * its next fire, and the tool the author meant would be shown to agents unhidden.
 */
export function missingHandlers(manifest: Manifest, listed: readonly string[]): Reason[] {
  const present = new Set(listed);
  const fields = new Map<string, string[]>();
  const note = (tool: string, field: string) => {
    if (present.has(tool)) return;
    fields.set(tool, [...(fields.get(tool) ?? []), field]);
  };
  for (const section of ['webhooks', 'dispatchers', 'schedules'] as const) {
    for (const [index, entry] of manifest[section].entries()) {
      note(entry.handler, `${section}[${index}].handler`);
    }
  }
  for (const [index, entry] of manifest.panels.entries()) note(entry.tool, `panels[${index}].tool`);
  for (const [index, entry] of manifest.events.entries()) note(entry.tool, `events[${index}].tool`);
  for (const [index, tool] of manifest.tools.hidden.entries()) note(tool, `tools.hidden[${index}]`);
  if (fields.size === 0) return [];
  const sorted = [...listed].sort();
  const shown = sorted.slice(0, MAX_LISTED_TOOLS).join(', ');
  const more = sorted.length - MAX_LISTED_TOOLS;
  const lists =
    sorted.length === 0
      ? 'it lists no tools'
      : `it lists: ${shown}${more > 0 ? ` and ${more} more` : ''}`;
  return [...fields].map(([tool, where]) => ({
    code: 'handler_missing',
    message: `${joinAnd(where)} ${where.length === 1 ? 'names' : 'name'} the tool ${tool}, which the server does not list (${lists})`,
  }));
}
