/**
 * The examples' "external" APIs in tests (issue 21): a fake API is a loopback server, and an
 * integration reaches it by name through the gateway's egress proxy, which connects the name to
 * the fake's port (SWITCHBOARD_EGRESS_RESOLVE) and allows the loopback address only because the
 * policy lists the host in `egress.privateHosts`. No test reaches a real network.
 */
export interface ByName {
  /** The base URL the integration is given, e.g. `http://api.github.com`. */
  url: string;
  /** A SWITCHBOARD_EGRESS_RESOLVE entry: `api.github.com=127.0.0.1:40123`. */
  resolve: string;
  /** Policy lines under `integrations.<name>` (4 spaces in). */
  policy: string;
}

export function byName(host: string, fakeUrl: string): ByName {
  const fake = new URL(fakeUrl);
  return {
    url: `http://${host}`,
    resolve: `${host}=${fake.hostname}:${fake.port}`,
    policy: `    egress: { privateHosts: [${host}] }\n`,
  };
}
