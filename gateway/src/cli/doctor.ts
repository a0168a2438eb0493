import { EXIT } from '../errors.ts';
import { type Command, HELP_OPTION, parseCommandArgs, showHelp } from './command.ts';
import { checkConfig } from './doctor/config.ts';
import { checkDatabase } from './doctor/database.ts';
import type { DoctorState, Finding, Severity } from './doctor/finding.ts';
import { checkIntegrations } from './doctor/integrations.ts';
import { checkPolicyReferences, loadPolicyFinding } from './doctor/policy.ts';
import { checkPort } from './doctor/port.ts';
import { formatTable } from './table.ts';

const usage = `Usage: switchboard doctor [--json] [--probe]

Checks what stops a gateway from starting or an integration from running, with the
environment "switchboard start" would use, and prints each finding: its severity (error,
warning, ok), what was found and the fix (a command, or the file and field to change).

  config        the environment (every variable start reads), production-mode refusals,
                the master key and the admin key
  database      reachable (DATABASE_URL or the embedded one in SWITCHBOARD_DATA_DIR, within
                10 s), migrated; never creates one
  clock         this machine's clock against the database's now(), warning past 5 s
  port          HOST:PORT free or held by a running Switchboard; SWITCHBOARD_PUBLIC_URL
  policy        SWITCHBOARD_POLICY loads; enabled entries with no folder; each profile's
                agent program on PATH
  integration   each folder of INTEGRATION_DIRS: manifest valid, server and process commands
                on PATH or in the folder, settings, webhook signing secrets, and the policy's
                decision (grants, hosts, settings) as start would make it

Nothing is started, changed or created, unless --probe. With the embedded database a running gateway holds
it: the database is then reported as in use and stored settings are not read.

Options:
  --json   one JSON object: {"ok": bool, "findings": [{severity, check, found, fix?}]}
  --probe  also start each granted stdio server as the gateway would (same environment and
           containment, at most 10 s, stopped after) and check that it lists every tool its
           webhooks, dispatchers, schedules, panels and tools.hidden name (handler_missing)

Exit status: 0 no errors (warnings allowed), 1 at least one error, 2 a bad command line.`;

const ORDER: Record<Severity, number> = { error: 0, warning: 1, ok: 2 };

/** Runs every check in order; each later one uses what the earlier ones established. */
export async function runDoctor(env: NodeJS.ProcessEnv, probe = false): Promise<Finding[]> {
  const state: DoctorState = {
    env,
    config: undefined,
    sql: undefined,
    masterKey: undefined,
    policy: undefined,
    integrationNames: new Set(),
    probe,
  };
  const findings: Finding[] = [...checkConfig(state)];
  const { findings: database, database: open } = await checkDatabase(state);
  try {
    findings.push(...database);
    findings.push(...(await checkPort(state)));
    findings.push(...loadPolicyFinding(state));
    findings.push(...(await checkIntegrations(state)));
    findings.push(...checkPolicyReferences(state));
  } finally {
    await open?.close();
  }
  return findings;
}

function table(findings: Finding[]): string {
  // Errors first, then warnings, then what passed; in check order within each.
  const sorted = findings
    .map((f, i) => ({ f, i }))
    .sort((a, b) => ORDER[a.f.severity] - ORDER[b.f.severity] || a.i - b.i)
    .map(({ f }) => f);
  const rows = sorted.flatMap((f) => {
    const lines = f.found.split('\n');
    return [
      [f.severity.toUpperCase(), f.check, lines[0]!],
      ...lines.slice(1).map((line) => ['', '', `  ${line}`]),
      ...(f.fix ? [['', '', `fix: ${f.fix}`]] : []),
    ];
  });
  const errors = findings.filter((f) => f.severity === 'error').length;
  const warnings = findings.filter((f) => f.severity === 'warning').length;
  return `${formatTable(['SEVERITY', 'CHECK', 'FOUND'], rows)}\n\n${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}`;
}

export const doctor: Command = {
  name: 'doctor',
  summary: 'check the configuration, database, port, policy and integrations',
  usage,
  async run(args, ctx) {
    const { values } = parseCommandArgs(
      args,
      { ...HELP_OPTION, json: { type: 'boolean' }, probe: { type: 'boolean' } },
      usage,
    );
    if (values.help) return showHelp(ctx, usage);
    const findings = await runDoctor(ctx.env, values.probe === true);
    const failed = findings.some((f) => f.severity === 'error');
    ctx.out(values.json ? JSON.stringify({ ok: !failed, findings }, null, 2) : table(findings));
    return failed ? EXIT.failure : EXIT.ok;
  },
};
