import fs from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { Exchange } from './proxy.ts';

/**
 * Reading one era's results: the suite's checks.json per scenario, the requirement set (which
 * scenarios are scored), the committed baseline, and the proxy's traffic, attributed to the
 * scenario that was running. The suite's own exit code decides pass/fail; this explains it.
 */

export interface Check {
  id: string;
  status: 'SUCCESS' | 'FAILURE' | 'WARNING' | 'INFO' | 'SKIPPED' | string;
  errorMessage?: string;
  details?: unknown;
}

/** As the suite judges a baseline: a FAILURE or a WARNING fails its scenario. */
export const failing = (check: Check) => check.status === 'FAILURE' || check.status === 'WARNING';

export interface ScenarioResult {
  scenario: string;
  /** When the suite started it (from its results folder name). */
  startedAt: number;
  scored: boolean;
  checks: Check[];
  failed: Check[];
  /** tools/call requests the proxy saw while it ran. */
  calls: ToolCall[];
}

export interface ToolCall {
  tool: string;
  outcome: 'ok' | 'isError' | 'error';
  /** The error message, or the isError result's first text block. */
  message?: string;
}

export interface BaselineEntry {
  entry: string;
  scenario: string;
  check: string | undefined;
  reason: string;
}

export interface EraReport {
  /** Which gateway endpoint the suite ran against (`fixture`: /mcp/fixture, `aggregate`: /mcp). */
  endpoint: string;
  era: string;
  exitCode: number | null;
  seconds: number;
  scenarios: ScenarioResult[];
  baseline: BaselineEntry[];
}

/** The server scenarios an era's requirement set scores (the rest run but never count). */
export function scoredScenarios(suiteDir: string, era: string): Set<string> {
  const file = path.join(suiteDir, 'requirements', `${era}.yaml`);
  const parsed = parseYaml(fs.readFileSync(file, 'utf8')) as { server?: string[] };
  return new Set(parsed.server ?? []);
}

/** The baseline's `server:` entries, each with the comment on its line as the reason. */
export function readBaseline(file: string): BaselineEntry[] {
  const text = fs.readFileSync(file, 'utf8');
  const parsed = parseYaml(text) as { server?: string[] } | null;
  const lines = text.split('\n');
  return (parsed?.server ?? []).map((entry) => {
    const line = lines.find((l) => l.replace(/#.*/, '').trim() === `- ${entry}`);
    const at = entry.indexOf(':');
    return {
      entry,
      scenario: at < 0 ? entry : entry.slice(0, at),
      check: at < 0 ? undefined : entry.slice(at + 1),
      reason: line?.includes('#') ? line.slice(line.indexOf('#') + 1).trim() : '',
    };
  });
}

/** `server-<scenario>-2026-11-23T18-04-53-145Z` → scenario and start time. */
function parseFolder(folder: string): { scenario: string; startedAt: number } | undefined {
  const m = /^server-(.+)-(\d{4}-\d\d-\d\d)T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z$/.exec(folder);
  if (!m) return undefined;
  const [, scenario, day, h, min, s, ms] = m;
  return { scenario: scenario!, startedAt: Date.parse(`${day}T${h}:${min}:${s}.${ms}Z`) };
}

type Message = {
  id?: unknown;
  method?: string;
  params?: { name?: unknown };
  result?: { isError?: boolean; content?: Array<{ type?: string; text?: string }> };
  error?: { message?: string };
};

function toolCalls(exchange: Exchange): ToolCall[] {
  const out: ToolCall[] = [];
  for (const sent of exchange.sent as Message[]) {
    if (sent?.method !== 'tools/call') continue;
    const tool = String(sent.params?.name);
    const answer = (exchange.received as Message[]).find(
      (m) => m && m.id === sent.id && (m.result !== undefined || m.error !== undefined),
    );
    if (answer?.error !== undefined) {
      out.push({ tool, outcome: 'error', message: answer.error.message ?? 'error' });
    } else if (answer?.result?.isError) {
      const text = answer.result.content?.find((c) => c.type === 'text')?.text;
      out.push({ tool, outcome: 'isError', ...(text !== undefined && { message: text }) });
    } else if (answer) out.push({ tool, outcome: 'ok' });
    else {
      const why = `no answer (HTTP ${exchange.status}${exchange.note ? `, ${exchange.note}` : ''})`;
      out.push({ tool, outcome: 'error', message: why });
    }
  }
  return out;
}

export function readScenarios(
  dir: string,
  scored: Set<string>,
  exchanges: Exchange[],
): ScenarioResult[] {
  const out: ScenarioResult[] = [];
  const folders = fs.existsSync(dir) ? fs.readdirSync(dir) : [];
  for (const folder of folders) {
    const parsed = parseFolder(folder);
    const file = path.join(dir, folder, 'checks.json');
    if (!parsed || !fs.existsSync(file)) continue;
    const checks = JSON.parse(fs.readFileSync(file, 'utf8')) as Check[];
    out.push({
      ...parsed,
      scored: scored.has(parsed.scenario),
      checks,
      failed: checks.filter(failing),
      calls: [],
    });
  }
  // Scenarios run one after the other: an exchange belongs to the last one started before it.
  out.sort((a, b) => a.startedAt - b.startedAt);
  for (const exchange of exchanges) {
    const at = Date.parse(exchange.at);
    const owner = out.filter((s) => s.startedAt <= at).pop();
    owner?.calls.push(...toolCalls(exchange));
  }
  return out;
}

function isBaselined(baseline: BaselineEntry[], scenario: string, check: string): boolean {
  return baseline.some(
    (b) => b.scenario === scenario && (b.check === undefined || b.check === check),
  );
}

export interface Tally {
  required: number;
  passed: number;
  /** Required scenarios failing only where the baseline says they may. */
  expected: number;
  /** Required scenarios with a failing check the baseline does not name. */
  unexpected: number;
  /** Baseline entries that no longer fail. */
  stale: string[];
}

export function tally(report: EraReport): Tally {
  const required = report.scenarios.filter((s) => s.scored);
  const failedScenarios = required.filter((s) => s.failed.length > 0);
  const unexpected = failedScenarios.filter((s) =>
    s.failed.some((c) => !isBaselined(report.baseline, s.scenario, c.id)),
  );
  // As the suite judges it: a scenario entry is stale when its scenario ran without failing; a
  // check entry when that check ran and did not fail (an absent or skipped check is tolerated).
  const stale = report.baseline
    .filter((b) => {
      const s = report.scenarios.find((x) => x.scenario === b.scenario);
      if (!s) return false;
      if (b.check === undefined) return s.failed.length === 0;
      const ran = s.checks.filter((c) => c.id === b.check && c.status !== 'SKIPPED');
      return ran.length > 0 && !ran.some(failing);
    })
    .map((b) => b.entry);
  return {
    required: required.length,
    passed: required.length - failedScenarios.length,
    expected: failedScenarios.length - unexpected.length,
    unexpected: unexpected.length,
    stale,
  };
}

/** isError is the point of these tools; anything else failing inside a pass deserves a look. */
const FAILS_ON_PURPOSE = new Set(['test_error_handling']);
/** A tool's name as the fixture declares it (the aggregate `/mcp` prefixes `fixture__`). */
const bareName = (tool: string) => tool.replace(/^fixture__/, '');

export function format(report: EraReport, baselineFile: string): string[] {
  const t = tally(report);
  const lines = [
    `--- ${report.endpoint} ${report.era}: ${t.passed}/${t.required} required scenarios passed, ` +
      `${t.expected} failed as the baseline expects, ${t.unexpected} unexpectedly` +
      `${t.stale.length > 0 ? `, ${t.stale.length} stale baseline entries` : ''}; ` +
      `suite exit ${report.exitCode}, ${report.seconds} s`,
  ];
  for (const s of report.scenarios.filter((x) => x.scored)) {
    for (const c of s.failed) {
      const tag = isBaselined(report.baseline, s.scenario, c.id) ? 'expected' : 'UNEXPECTED';
      const detail = (c.details as { message?: unknown } | undefined)?.message;
      const message = c.errorMessage ?? (typeof detail === 'string' ? detail : '');
      const why = `${c.status === 'WARNING' ? '[warning] ' : ''}${message}`;
      lines.push(`  ${tag.padEnd(10)} ${s.scenario}:${c.id}  ${why}`.trimEnd());
    }
  }
  for (const entry of t.stale) {
    lines.push(`  STALE      ${entry}  (it passes now: remove it from ${baselineFile})`);
  }
  const suspicious = report.scenarios.filter(
    (s) =>
      s.scored &&
      s.failed.length === 0 &&
      s.calls.some((c) => c.outcome !== 'ok' && !FAILS_ON_PURPOSE.has(bareName(c.tool))),
  );
  if (suspicious.length > 0) {
    lines.push('  passed although a tool call failed (check the pass is not vacuous):');
    for (const s of suspicious) {
      for (const c of s.calls.filter(
        (x) => x.outcome !== 'ok' && !FAILS_ON_PURPOSE.has(bareName(x.tool)),
      )) {
        lines.push(`    ${s.scenario}: ${c.tool} -> ${c.outcome}: ${c.message ?? ''}`.trimEnd());
      }
    }
  }
  const notScored = report.scenarios.filter((s) => !s.scored);
  if (notScored.length > 0) {
    const failedNames = notScored.filter((s) => s.failed.length > 0).map((s) => s.scenario);
    lines.push(
      `  not scored by ${report.era} (extension, pending, added after release): ` +
        `${notScored.length - failedNames.length}/${notScored.length} passed` +
        `${failedNames.length > 0 ? `; failing: ${failedNames.join(', ')}` : ''}`,
    );
  }
  const byTool = new Map<string, Record<ToolCall['outcome'], number>>();
  for (const s of report.scenarios) {
    for (const c of s.calls) {
      const counts = byTool.get(c.tool) ?? { ok: 0, isError: 0, error: 0 };
      counts[c.outcome]++;
      byTool.set(c.tool, counts);
    }
  }
  lines.push('  tools/call answers through the gateway (ok / isError / JSON-RPC error):');
  for (const [tool, c] of [...byTool].sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(`    ${tool.padEnd(44)} ${c.ok} / ${c.isError} / ${c.error}`);
  }
  return lines;
}
