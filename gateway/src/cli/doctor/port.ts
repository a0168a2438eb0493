import net from 'node:net';
import { type DoctorState, error, type Finding, ok, warning } from './finding.ts';

const CHECK = 'port';

/** A /healthz probe of a local listener answers at once or never: 2 s is generous. */
const HEALTH_PROBE_MS = 2_000;

/** Whether HOST:PORT can be bound now: undefined if so, else the error code (EADDRINUSE…). */
function tryListen(host: string, port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', (caught: NodeJS.ErrnoException) => resolve(caught.code ?? caught.message));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve(undefined)));
  });
}

/** A Switchboard answers GET /healthz with exactly {"status":"ok"} (http/health.ts). */
async function isSwitchboard(host: string, port: number): Promise<boolean> {
  const shown = host.includes(':') ? `[${host}]` : host === '0.0.0.0' ? '127.0.0.1' : host;
  try {
    const res = await fetch(`http://${shown === '[::]' ? '[::1]' : shown}:${port}/healthz`, {
      signal: AbortSignal.timeout(HEALTH_PROBE_MS),
    });
    const body = (await res.json()) as { status?: unknown };
    return res.ok && body.status === 'ok' && Object.keys(body).length === 1;
  } catch {
    return false;
  }
}

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

/** PORT free (or held by a running Switchboard), SWITCHBOARD_PUBLIC_URL plausible. */
export async function checkPort(state: DoctorState): Promise<Finding[]> {
  const config = state.config;
  if (!config) return [];
  const findings: Finding[] = [];
  const at = `${config.host}:${config.port}`;
  if (config.port === 0) {
    findings.push(ok(CHECK, 'PORT=0: the gateway takes a free port when it starts'));
  } else {
    const problem = await tryListen(config.host, config.port);
    if (problem === undefined) {
      findings.push(ok(CHECK, `${at} is free`));
    } else if (problem === 'EADDRINUSE' && (await isSwitchboard(config.host, config.port))) {
      findings.push(ok(CHECK, `${at} is held by a running Switchboard (GET /healthz answers)`));
    } else if (problem === 'EADDRINUSE') {
      findings.push(
        error(
          CHECK,
          `${at} is in use by another program (it does not answer GET /healthz as Switchboard does)`,
          `stop that program (find it: ss -ltnp 'sport = :${config.port}'), or set PORT to a free port`,
        ),
      );
    } else {
      findings.push(
        error(
          CHECK,
          `cannot listen on ${at}: ${problem}`,
          problem === 'EACCES'
            ? 'use a PORT above 1023, or give node the right to bind low ports'
            : 'set HOST to an address of this machine (127.0.0.1, 0.0.0.0 or ::)',
        ),
      );
    }
  }
  if (config.publicUrl) {
    const url = new URL(config.publicUrl);
    if (config.mode === 'production' && url.protocol === 'http:' && !LOOPBACK.has(url.hostname)) {
      findings.push(
        warning(
          CHECK,
          `SWITCHBOARD_PUBLIC_URL=${config.publicUrl} is plain http on a non-loopback host: tokens and webhook secrets cross the network unencrypted`,
          'put TLS in front (a reverse proxy) and set SWITCHBOARD_PUBLIC_URL to its https:// URL',
        ),
      );
    } else {
      findings.push(ok(CHECK, `SWITCHBOARD_PUBLIC_URL=${config.publicUrl}`));
    }
  } else if (!LOOPBACK.has(config.host)) {
    findings.push(
      warning(
        CHECK,
        `HOST=${config.host} without SWITCHBOARD_PUBLIC_URL: agent configs, tokens and webhook URLs will name http://127.0.0.1:${config.port}, which other machines cannot reach`,
        'set SWITCHBOARD_PUBLIC_URL to the URL others reach the gateway at, e.g. https://gateway.example.com',
      ),
    );
  }
  return findings;
}
