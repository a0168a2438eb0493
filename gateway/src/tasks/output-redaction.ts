/**
 * Removes a profile's secret values (settings/profile-secrets.ts) from what the task worker
 * records of its agent: each `task:token` line and the stdout tail that becomes a clean exit's
 * result. An agent that prints its API key (a debug line, an error that quotes its request)
 * must not put it in the database, where every tasks:read key and event subscriber reads it.
 *
 * Each value becomes `[redacted NAME]`. Longer values first, so one that contains another is
 * removed whole. A value of several lines (a PEM key) is also removed line by line, since the
 * runner splits output at newlines; lines of it under 8 characters (`-----`, blank) are left,
 * they say nothing. This is no defence against an agent that means to leak (it can encode the
 * value): it keeps the careless print out of the record. The built-in task tools
 * (mcp/task-tools.ts) run the same over what an agent hands in: task_complete's result,
 * task_progress's message, ask_user's question (profileRedactor).
 */

import type { Policy } from '@switchboard/policy';
import type { Sql } from '../db/connect.ts';
import { readProfileSecrets } from '../settings/profile-secrets.ts';

/** Parts of a multi-line value shorter than this are ordinary text (SECRET_MIN_CHARS). */
const MIN_PART_CHARS = 8;

export interface OutputRedactor {
  /** One line (or any text) with every secret value replaced. */
  line(text: string): string;
  /**
   * The stdout tail, which the runner cut from the front at 64 KiB: besides whole values, the
   * end of a value that the cut left at its start.
   */
  tail(text: string): string;
}

export const NO_REDACTION: OutputRedactor = { line: (t) => t, tail: (t) => t };

export function outputRedactor(secrets: Record<string, string>): OutputRedactor {
  const needles: Array<{ value: string; marker: string }> = [];
  for (const [name, value] of Object.entries(secrets)) {
    const marker = `[redacted ${name}]`;
    needles.push({ value, marker });
    if (/[\r\n]/.test(value)) {
      for (const part of value.split(/\r?\n|\r/)) {
        if (part.trim().length >= MIN_PART_CHARS) needles.push({ value: part, marker });
      }
    }
  }
  if (needles.length === 0) return NO_REDACTION;
  needles.sort((a, b) => b.value.length - a.value.length);
  const line = (text: string): string => {
    let out = text;
    for (const { value, marker } of needles) {
      if (out.includes(value)) out = out.replaceAll(value, marker);
    }
    return out;
  };
  return {
    line,
    tail(text) {
      let out = line(text);
      for (const { value, marker } of needles) {
        // The longest proper suffix of the value the text starts with (8 characters or more).
        for (let k = value.length - 1; k >= MIN_PART_CHARS; k -= 1) {
          if (out.startsWith(value.slice(-k))) {
            out = `${marker}${out.slice(k)}`;
            break;
          }
        }
      }
      return out;
    },
  };
}

const identity = (text: string) => text;

/**
 * The line redactor of a task's profile, read now (any replica may serve the agent's task
 * tools): the secrets that are set and decrypt. None for a task without a profile (an external
 * task) or a profile without secrets, at the cost of no query.
 */
export async function profileRedactor(
  sql: Sql,
  masterKey: Buffer,
  policy: Policy | undefined,
  profile: string | null,
): Promise<(text: string) => string> {
  if (profile === null || !policy || !Object.hasOwn(policy.profiles, profile)) return identity;
  const declared = policy.profiles[profile]?.secrets ?? [];
  if (declared.length === 0) return identity;
  const { values } = await readProfileSecrets(sql, masterKey, profile, declared);
  return outputRedactor(values).line;
}
