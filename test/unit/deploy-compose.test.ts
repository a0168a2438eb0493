import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { CONFIG_VARIABLES } from '../../gateway/src/config.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

// deploy/compose/replicas.yaml: two gateways behind HAProxy (issue 19 item 4). No Docker engine
// exists on the CI machines and no well-kept npm package ships the compose-spec schema, so the
// file is parsed and its structure asserted, with the proxy's configuration read alongside.

const DIR = path.join(REPO_ROOT, 'deploy/compose');
const read = (file: string) => fs.readFileSync(path.join(DIR, file), 'utf8');

interface Service {
  image?: string;
  build?: { context: string };
  environment?: Record<string, string>;
  volumes?: string[];
  ports?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
  stop_grace_period?: string;
  init?: boolean;
}
const compose = parseYaml(read('replicas.yaml'), { merge: true }) as {
  services: Record<string, Service>;
};
const gateways = Object.entries(compose.services).filter(([, s]) => s.build);

/** HAProxy's configuration as sections of trimmed, comment-free lines. */
function haproxySections(text: string): Record<string, string[]> {
  const sections: Record<string, string[]> = {};
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') continue;
    if (!raw.startsWith(' ')) {
      current = line;
      sections[current] = [];
    } else sections[current]!.push(line);
  }
  return sections;
}

describe('deploy/compose/replicas.yaml', () => {
  it('runs two gateways from the repository’s Dockerfile on one database and one master key', () => {
    expect(gateways.map(([name]) => name)).toEqual(['gateway-a', 'gateway-b']);
    for (const [name, gateway] of gateways) {
      expect(fs.existsSync(path.join(DIR, gateway.build!.context, 'Dockerfile')), name).toBe(true);
      const env = gateway.environment!;
      expect(env.DATABASE_URL).toMatch(/@postgres:5432\//);
      // A master key per replica would make each unable to read the other's secrets.
      expect(env.SWITCHBOARD_MASTER_KEY).toMatch(/^\$\{SWITCHBOARD_MASTER_KEY:\?/);
      expect(env.SWITCHBOARD_ADMIN_KEY).toMatch(/^\$\{SWITCHBOARD_ADMIN_KEY:\?/);
      expect(env.SWITCHBOARD_PUBLIC_URL).toContain('localhost:8080'); // the proxy's address
      for (const variable of Object.keys(env))
        expect(CONFIG_VARIABLES, variable).toContain(variable);
      expect(gateway.healthcheck!.test.join(' ')).toContain('/readyz');
      expect(gateway.depends_on!.postgres!.condition).toBe('service_healthy');
      expect(Number.parseInt(gateway.stop_grace_period!, 10)).toBeGreaterThan(10);
      expect(gateway.ports, 'only the proxy is published').toBeUndefined();
      const policy = gateway.volumes!.find((v) => v.endsWith(':/etc/switchboard/policy.yaml:ro'));
      const hostPath = policy!.replace(/^\$\{[A-Z_]+:-(.*)\}:.*$/, '$1');
      expect(fs.existsSync(path.join(DIR, hostPath)), hostPath).toBe(true);
    }
    // One definition (a YAML anchor) for both: the replicas cannot drift apart.
    expect(compose.services['gateway-a']).toEqual(compose.services['gateway-b']);
  });

  it('pins every image’s tag', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build) continue;
      expect(service.image, name).toMatch(/^[a-z0-9./-]+:\d+(\.\d+)+(-[a-z0-9]+)?$/);
    }
  });

  it('publishes the proxy on 127.0.0.1 by default and mounts its configuration', () => {
    const proxy = compose.services.proxy!;
    expect(proxy.image).toMatch(/^haproxy:/);
    expect(proxy.ports).toEqual([`${'$'}{SWITCHBOARD_BIND:-127.0.0.1}:8080:8080`]);
    expect(proxy.volumes).toContain('./haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
  });

  it('the proxy sends requests round robin to both gateways, checked on /readyz, unsticky', () => {
    const sections = haproxySections(read('haproxy.cfg'));
    expect(sections['frontend gateway']).toContain('bind :8080');
    const backend = sections['backend gateways']!;
    expect(backend).toContain('balance roundrobin');
    expect(backend).toContain('option httpchk GET /readyz');
    expect(backend.find((l) => l.startsWith('default-server'))).toMatch(/\bcheck\b/);
    const servers = backend.filter((l) => l.startsWith('server '));
    expect(servers).toEqual(gateways.map(([name]) => `server ${name} ${name}:8080`));
    // No stickiness: any replica serves any request.
    expect(backend.filter((l) => /^(stick|cookie|hash-type)|balance source/.test(l))).toEqual([]);
  });
});
