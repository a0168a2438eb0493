/**
 * What mcp-bench.ts measures: its targets (an endpoint per client, the proxy's and the
 * upstream's process), grouped as they are compared — (a) gateway → stdio vs mcp-proxy → stdio,
 * (b) gateway → HTTP vs the HTTP server direct, each with the --base gateway beside it — and
 * the one check that each answers as an MCP server should before anything is timed.
 */
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { type BenchGateway, grantExternalTask } from './gateway.ts';
import type { Endpoint } from './load.ts';
import { MCP_PROXY_VERSION, stdioChildOf } from './mcp-upstreams.ts';
import type { Proc } from './processes.ts';

export interface Target {
  /** gateway-stdio, mcp-proxy, gateway-http, direct-http; with --base, gateway-stdio-base and gateway-http-base. */
  key: string;
  label: string;
  /** The process whose CPU is "the proxy's": the gateway or mcp-proxy; none for direct. */
  proxyPid: number | undefined;
  /** The upstream server's process. */
  upstreamPid: () => number | undefined;
  endpoint: (client: number) => Endpoint;
}

/** Each client's endpoints at one gateway, by integration: its own task, its own tokens. */
export type Grants = Array<Record<string, { url: string; token: string }>>;

export async function grantTokens(gw: BenchGateway, n: number): Promise<Grants> {
  const grants = [];
  for (let i = 0; i < n; i++) {
    const granted = await grantExternalTask(gw, ['benchstdio:*', 'benchhttp:*']);
    grants.push(Object.fromEntries(granted.integrations.map((g) => [g.name, g])));
  }
  return grants;
}

interface Started {
  proc: Proc;
  url: URL;
}

/**
 * The targets in the order of the report, and the groups whose members are alternated with
 * each other: stdio (with `proxy`), HTTP (with `wantHttp`).
 */
export function buildTargets(o: {
  gateway: BenchGateway;
  grants: Grants;
  base: { gateway: BenchGateway; grants: Grants } | undefined;
  proxy: Started | undefined;
  httpUpstream: Started;
  wantHttp: boolean;
}): { targets: Target[]; groups: Target[][] } {
  const { httpUpstream, proxy, base } = o;
  const viaGateway = (
    key: string,
    label: string,
    gw: BenchGateway,
    g: Grants,
    integration: 'benchstdio' | 'benchhttp',
  ): Target => ({
    key,
    label,
    proxyPid: gw.proc.pid,
    upstreamPid: () =>
      integration === 'benchstdio' ? stdioChildOf(gw.proc.pid) : httpUpstream.proc.pid,
    endpoint: (i) => ({
      url: new URL(g[i]![integration]!.url),
      token: g[i]![integration]!.token,
      tool: 'echo',
    }),
  });

  const groups: Target[][] = [];
  const targets: Target[] = [];
  if (proxy) {
    targets.push(
      viaGateway('gateway-stdio', 'gateway → stdio', o.gateway, o.grants, 'benchstdio'),
      {
        key: 'mcp-proxy',
        label: `mcp-proxy ${MCP_PROXY_VERSION} → stdio`,
        proxyPid: proxy.proc.pid,
        upstreamPid: () => stdioChildOf(proxy.proc.pid),
        endpoint: () => ({ url: proxy.url, tool: 'echo' }),
      },
    );
    if (base) {
      targets.push(
        viaGateway(
          'gateway-stdio-base',
          'base gateway → stdio',
          base.gateway,
          base.grants,
          'benchstdio',
        ),
      );
    }
    groups.push(targets.slice());
  }
  if (o.wantHttp) {
    targets.push(viaGateway('gateway-http', 'gateway → HTTP', o.gateway, o.grants, 'benchhttp'), {
      key: 'direct-http',
      label: 'HTTP upstream direct',
      proxyPid: undefined,
      upstreamPid: () => httpUpstream.proc.pid,
      endpoint: () => ({ url: httpUpstream.url, tool: 'echo' }),
    });
    if (base) {
      targets.push(
        viaGateway(
          'gateway-http-base',
          'base gateway → HTTP',
          base.gateway,
          base.grants,
          'benchhttp',
        ),
      );
    }
    groups.push(targets.slice(groups.flat().length));
  }
  return { targets, groups };
}

/** One real v2 SDK client per target: tools/list shows `echo`, and a call echoes. */
export async function sanityCheck(target: Target): Promise<void> {
  const endpoint = target.endpoint(0);
  const client = new Client({ name: 'bench-sanity', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(endpoint.url, {
      ...(endpoint.token && {
        requestInit: { headers: { authorization: `Bearer ${endpoint.token}` } },
      }),
    }),
  );
  try {
    const tools = (await client.listTools()).tools.map((t) => t.name);
    if (!tools.includes(endpoint.tool)) throw new Error(`${target.key}: tools are ${tools}`);
    const result = await client.callTool({ name: endpoint.tool, arguments: { message: 'hi' } });
    const text = (result.content as Array<{ text?: string }>)[0]?.text;
    if (text !== 'hi') throw new Error(`${target.key}: echo answered ${JSON.stringify(result)}`);
  } finally {
    await client.close();
  }
}
