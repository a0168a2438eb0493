import { EnvHttpProxyAgent, fetch as undiciFetch } from 'undici';

/**
 * A `fetch` that goes through the gateway's egress proxy (issue 21) when the environment names
 * one, for integration servers written in TypeScript or JavaScript.
 *
 * The gateway gives every program of an integration HTTPS_PROXY, HTTP_PROXY and NO_PROXY (and the
 * lowercase forms): the proxy allows only the hosts the policy grants and records each
 * connection. curl, Python's urllib and requests, and Go honour them by default; Node's built-in
 * fetch does not on Node 20 and 22 (Node ≥ 24.5 does, with NODE_USE_ENV_PROXY=1, which the
 * gateway sets too). This fetch honours them on every Node line: through undici's
 * EnvHttpProxyAgent when a proxy is set (NO_PROXY hosts, e.g. the gateway's own API, go direct),
 * the global fetch otherwise (a server run outside the gateway, in its own tests).
 *
 * Use it for every outbound call: `const fetch = egressFetch();`.
 */
export function egressFetch(env: NodeJS.ProcessEnv = process.env): typeof globalThis.fetch {
  const proxied =
    env.HTTPS_PROXY || env.https_proxy || env.HTTP_PROXY || env.http_proxy ? true : false;
  if (!proxied) return globalThis.fetch;
  const dispatcher = new EnvHttpProxyAgent({
    httpProxy: env.HTTP_PROXY || env.http_proxy,
    httpsProxy: env.HTTPS_PROXY || env.https_proxy,
    noProxy: env.NO_PROXY ?? env.no_proxy,
  });
  // undici's own fetch with its own dispatcher: the global fetch of Node 24 is a different
  // undici major, and mixing the two is not supported.
  return ((input: Parameters<typeof undiciFetch>[0], init?: Parameters<typeof undiciFetch>[1]) =>
    undiciFetch(input, { ...init, dispatcher })) as unknown as typeof globalThis.fetch;
}
