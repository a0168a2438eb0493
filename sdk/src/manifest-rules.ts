import type { z } from 'zod';
import { SETTING_KEY } from './fields.ts';
import type { Capability, manifestObject } from './manifest-shape.ts';
import { placeholdersOf } from './url-template.ts';

/**
 * The manifest rules no single field can check: names that must refer to something declared
 * elsewhere in the file, sections that need a capability, and names that must be unique.
 * Each violation points at the field to change.
 */

type ManifestShape = z.output<typeof manifestObject>;

export interface RuleViolation {
  path: (string | number)[];
  /** What the file held, when the raw value at `path` does not say it well; absent = missing. */
  found?: string;
  expected: string;
}

/** Sections that only run with a capability: declaring one without it is a contradiction. */
const NEEDS: ReadonlyArray<{
  section: 'webhooks' | 'dispatchers' | 'schedules' | 'processes';
  capability: Capability;
  one: string;
  many: string;
}> = [
  { section: 'webhooks', capability: 'webhooks', one: 'webhook', many: 'webhooks' },
  { section: 'dispatchers', capability: 'dispatch', one: 'dispatcher', many: 'dispatchers' },
  { section: 'schedules', capability: 'schedules', one: 'schedule', many: 'schedules' },
  { section: 'processes', capability: 'processes', one: 'process', many: 'processes' },
];

function duplicates(
  section: string,
  field: string,
  values: readonly string[],
  what: string,
): RuleViolation[] {
  const firstAt = new Map<string, number>();
  const out: RuleViolation[] = [];
  for (const [index, value] of values.entries()) {
    const first = firstAt.get(value);
    if (first === undefined) firstAt.set(value, index);
    else
      out.push({
        path: [section, index, field],
        found: `${JSON.stringify(value)} again`,
        expected: `a unique ${what} (${section}[${first}].${field} is already ${JSON.stringify(value)})`,
      });
  }
  return out;
}

export function manifestRuleViolations(manifest: ManifestShape): RuleViolation[] {
  const out: RuleViolation[] = [];
  const declared = manifest.settings.map((s) => s.key);
  const isDeclared = (key: string) => declared.includes(key);
  const settingExpected = `the key of a setting declared in settings (${declared.length > 0 ? `declared: ${declared.join(', ')}` : 'none is declared'})`;

  out.push(
    ...duplicates('settings', 'key', declared, 'setting key'),
    ...duplicates(
      'webhooks',
      'name',
      manifest.webhooks.map((w) => w.name),
      'webhook name',
    ),
    ...duplicates(
      'dispatchers',
      'type',
      manifest.dispatchers.map((d) => d.type),
      'dispatcher type',
    ),
    ...duplicates(
      'schedules',
      'name',
      manifest.schedules.map((s) => s.name),
      'schedule name',
    ),
    ...duplicates(
      'panels',
      'name',
      manifest.panels.map((p) => p.name),
      'panel name',
    ),
    ...duplicates(
      'events',
      'tool',
      manifest.events.map((e) => e.tool),
      'hook tool',
    ),
    ...duplicates(
      'processes',
      'name',
      manifest.processes.map((p) => p.name),
      'process name',
    ),
  );

  for (const [index, setting] of manifest.settings.entries()) {
    // A default ships in the manifest, in clear, to everyone who has the folder.
    if (setting.secret && setting.default !== undefined) {
      out.push({
        path: ['settings', index, 'default'],
        found: 'a default value on a secret setting',
        expected:
          "no default for a secret: set it with the CLI or API, or in the gateway's environment",
      });
    }
  }

  for (const [index, setting] of manifest.settings.entries()) {
    if (setting.auto === undefined) continue;
    if (setting.default !== undefined) {
      out.push({
        path: ['settings', index, 'auto'],
        found: `auto: ${setting.auto} and a default`,
        expected: 'either auto or default, not both',
      });
    }
    if (setting.secret) {
      out.push({
        path: ['settings', index, 'auto'],
        found: `auto: ${setting.auto} on a secret setting`,
        expected: 'auto only on a setting that is not secret (the gateway shows what it picked)',
      });
    }
  }

  if (manifest.server.transport === 'http') {
    // A URL is logged and shown in lists, and must have a value whenever the integration runs.
    // Malformed placeholders are the field's own error (manifest-shape.ts serverUrl).
    for (const key of placeholdersOf(manifest.server.url).filter((k) => SETTING_KEY.test(k))) {
      const setting = manifest.settings.find((s) => s.key === key);
      const path = ['server', 'url'];
      if (!setting) {
        out.push({ path, found: `\${${key}}`, expected: settingExpected });
      } else if (setting.secret) {
        out.push({
          path,
          found: `\${${key}}, a secret setting`,
          expected: 'placeholders naming settings that are not secret (a URL is logged and shown)',
        });
      } else if (!setting.required && setting.default === undefined && !setting.auto) {
        out.push({
          path,
          found: `\${${key}}, declared without required, default or auto`,
          expected:
            'placeholders naming settings that always have a value: required: true, a default, or auto: port',
        });
      }
    }
  }

  for (const [index, webhook] of manifest.webhooks.entries()) {
    const { scheme, secret } = webhook.verify;
    const path = ['webhooks', index, 'verify', 'secret'];
    if (scheme === 'none' && secret !== undefined) {
      out.push({ path, expected: 'no secret with scheme none (unsigned deliveries)' });
    } else if (scheme !== 'none' && secret === undefined) {
      out.push({ path, expected: `${settingExpected}, holding the ${scheme} signing secret` });
    } else if (secret !== undefined && !isDeclared(secret)) {
      out.push({ path, expected: settingExpected });
    } else if (secret !== undefined) {
      // An HMAC key that may be empty, or that is stored and listed in clear, is no check at all.
      const setting = manifest.settings.find((s) => s.key === secret);
      if (setting && !(setting.secret && setting.required)) {
        out.push({
          path,
          found: `${JSON.stringify(secret)}, declared with${setting.secret ? '' : 'out'} secret: true and with${setting.required ? '' : 'out'} required: true`,
          expected: 'a setting declared with secret: true and required: true',
        });
      }
    }
  }

  for (const [index, process] of manifest.processes.entries()) {
    for (const [at, key] of process.requires.entries()) {
      if (!isDeclared(key))
        out.push({ path: ['processes', index, 'requires', at], expected: settingExpected });
    }
  }

  // A handler visible to agents could be called by any agent with a forged delivery.
  const hidden = manifest.tools.hidden;
  const hiddenList =
    hidden.length > 0 ? `tools.hidden: ${hidden.join(', ')}` : 'tools.hidden is empty';
  for (const section of ['webhooks', 'dispatchers', 'schedules'] as const) {
    for (const [index, entry] of manifest[section].entries()) {
      if (!hidden.includes(entry.handler)) {
        out.push({
          path: [section, index, 'handler'],
          expected: `a tool listed in tools.hidden, since only the gateway may call handlers (${hiddenList})`,
        });
      }
    }
  }
  for (const [index, entry] of manifest.dispatchers.entries()) {
    if (entry.approvals !== undefined && !hidden.includes(entry.approvals)) {
      out.push({
        path: ['dispatchers', index, 'approvals'],
        expected: `a tool listed in tools.hidden, since only the gateway may call handlers (${hiddenList})`,
      });
    }
  }

  // A hook tool is called by the gateway alone, with task events of sessions it may not own.
  for (const [index, entry] of manifest.events.entries()) {
    if (!hidden.includes(entry.tool)) {
      out.push({
        path: ['events', index, 'tool'],
        expected: `a tool of this integration listed in tools.hidden, since only the gateway may call hook tools (${hiddenList})`,
      });
    }
  }
  if (manifest.events.length > 0 && !manifest.capabilities.includes('events')) {
    const count = manifest.events.length;
    out.push({
      path: ['capabilities'],
      found: 'no "events"',
      expected: `"events" because the manifest declares ${count} event hook${count === 1 ? '' : 's'}`,
    });
  }
  for (const [index, entry] of manifest.events.entries()) {
    if (entry.sessions === 'all' && !manifest.capabilities.includes('events.all')) {
      out.push({
        path: ['capabilities'],
        found: 'no "events.all"',
        expected: `"events.all" because events[${index}] has sessions: all (the tasks of every session, not only this integration's own)`,
      });
    }
  }

  // A panel's tool is called by the gateway alone, with the gateway's instance and no task.
  for (const [index, entry] of manifest.panels.entries()) {
    if (!hidden.includes(entry.tool)) {
      out.push({
        path: ['panels', index, 'tool'],
        expected: `a tool of this integration listed in tools.hidden, since only the gateway may call panel tools (${hiddenList})`,
      });
    }
  }

  for (const { section, capability, one, many } of NEEDS) {
    const count = manifest[section].length;
    if (count > 0 && !manifest.capabilities.includes(capability)) {
      out.push({
        path: ['capabilities'],
        found: `no "${capability}"`,
        expected: `"${capability}" because the manifest declares ${count} ${count === 1 ? one : many}`,
      });
    }
  }

  const outbound = manifest.capabilities.includes('http.outbound');
  if (outbound && manifest.outboundHosts.length === 0) {
    out.push({
      path: ['outboundHosts'],
      found: 'no hosts',
      expected: 'at least one host because capabilities include "http.outbound"',
    });
  }
  if (!outbound && manifest.outboundHosts.length > 0) {
    out.push({
      path: ['capabilities'],
      found: 'no "http.outbound"',
      expected: `"http.outbound" because outboundHosts lists ${manifest.outboundHosts.length} host${manifest.outboundHosts.length === 1 ? '' : 's'}`,
    });
  }
  return out;
}
