import type { Manifest } from '@switchboard/sdk';
import { containment } from '../../containment/detect.ts';
import { missingHandlers } from '../../integrations/judge.ts';
import { buildUpstreamPool, integrationEnv } from '../../integrations/launch.ts';
import { listAllTools } from '../../integrations/tools.ts';
import { createLogger } from '../../log.ts';
import type { ResolvedSetting } from '../../settings/resolve.ts';
import { type DoctorState, error, type Finding, ok } from './finding.ts';

/**
 * `--probe` gives a server this long to start and list its tools: the manifest's own request
 * timeout (30 s by default) is for a gateway that waits in the background; a doctor run over
 * ten integrations must end within minutes.
 */
export const PROBE_MS = 10_000;

/**
 * Starts a granted stdio server the way the gateway does (launch.ts: the same environment of
 * PATH, HOME and its settings, the same containment, stopped afterwards), lists its tools and
 * checks that every handler, panel tool and hidden tool the manifest names is among them
 * (judge.ts missingHandlers: the `handler_missing` refusal the gateway would give).
 */
export async function probeServer(
  state: DoctorState,
  check: string,
  name: string,
  dir: string,
  manifest: Manifest,
  settings: ResolvedSetting[],
): Promise<Finding[]> {
  if (manifest.server.transport !== 'stdio') return [];
  containment(state.config!.containment);
  const pool = buildUpstreamPool(
    name,
    dir,
    manifest,
    undefined,
    integrationEnv(state.env, settings, name),
    createLogger('silent'),
  );
  let timer: NodeJS.Timeout | undefined;
  try {
    const tools = await Promise.race([
      pool.request((client, timeoutMs) => listAllTools(client, Math.min(timeoutMs, PROBE_MS))),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no tools/list answer within ${PROBE_MS / 1000} s`)),
          PROBE_MS,
        );
      }),
    ]);
    const missing = missingHandlers(
      manifest,
      tools.map((t) => t.name),
    );
    if (missing.length === 0)
      return [
        ok(
          check,
          `server started and listed ${tools.length} tool${tools.length === 1 ? '' : 's'} (--probe)`,
        ),
      ];
    return missing.map((reason) =>
      error(
        check,
        `${reason.code}: ${reason.message}`,
        `add the tool to the server, or correct the name in ${dir}/switchboard.yaml`,
      ),
    );
  } catch (caught) {
    return [
      error(
        check,
        `the server did not start or list its tools (--probe): ${(caught as Error).message}`,
        `run it by hand in ${dir} (${manifest.server.command} ${manifest.server.args.join(' ')}) and read its stderr`,
      ),
    ];
  } finally {
    clearTimeout(timer);
    await pool.stop();
  }
}
