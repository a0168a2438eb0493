import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the fake received, recorded before any auth check so tests can see rejects too. */
export type RecordedCall = {
  method: string;
  /** Path with query string, e.g. `/repos/acme/api/issues?state=closed&per_page=100`. */
  path: string;
  authorization: string | undefined;
  /** The W3C trace context header, when the caller traces (undefined otherwise). */
  traceparent: string | undefined;
  body: unknown;
};

export type FakePull = {
  number: number;
  title: string;
  body: string;
  author: string;
  state?: string;
};
export type FakeIssue = {
  number: number;
  title: string;
  author: string;
  state: 'open' | 'closed';
  isPullRequest?: boolean;
};

export type FakeGitHub = {
  /** Base URL to pass as GITHUB_API_URL, e.g. `http://127.0.0.1:40123`. */
  url: string;
  calls: RecordedCall[];
  /** Comments posted through the API, per `owner/repo#number`. */
  comments: Map<string, string[]>;
  close(): Promise<void>;
};

/** Request bodies above 1 MiB are refused; real comment bodies cap at 65,536 characters. */
const MAX_BODY_BYTES = 1 << 20;

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) throw new Error('body too large');
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

/**
 * A GitHub REST API stand-in on 127.0.0.1 (random port) serving the three endpoints the github
 * integration uses. It checks `Authorization: Bearer <token>` like GitHub does (401 otherwise).
 */
export async function startFakeGitHub(options: {
  token: string;
  pulls?: Record<string, FakePull[]>;
  issues?: Record<string, FakeIssue[]>;
}): Promise<FakeGitHub> {
  const calls: RecordedCall[] = [];
  const comments = new Map<string, string[]>();
  let nextCommentId = 1000;

  const server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const text = await readBody(req).catch(() => '');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the raw text; the route below answers 400
    }
    calls.push({
      method: req.method ?? '',
      path,
      authorization: req.headers.authorization,
      traceparent:
        typeof req.headers.traceparent === 'string' ? req.headers.traceparent : undefined,
      body,
    });

    if (req.headers.authorization !== `Bearer ${options.token}`) {
      send(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
      });
      return;
    }
    const url = new URL(path, 'http://fake');
    const pull = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/pulls\/(\d+)$/);
    const issues = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/issues$/);
    const comment = url.pathname.match(/^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/);

    if (req.method === 'GET' && pull) {
      const [, repo = '', n = ''] = pull;
      const found = options.pulls?.[repo]?.find((p) => p.number === Number(n));
      if (!found) return send(res, 404, { message: 'Not Found' });
      return send(res, 200, {
        number: found.number,
        title: found.title,
        body: found.body,
        state: found.state ?? 'open',
        html_url: `https://github.com/${repo}/pull/${found.number}`,
        draft: false,
        merged: false,
        user: { login: found.author, type: 'User' },
        head: { ref: 'feature', sha: 'a'.repeat(40) },
        base: { ref: 'main' },
      });
    }
    if (req.method === 'GET' && issues) {
      const [, repo = ''] = issues;
      const state = url.searchParams.get('state') ?? 'open';
      const list = (options.issues?.[repo] ?? []).filter(
        (i) => state === 'all' || i.state === state,
      );
      return send(
        res,
        200,
        list.map((i) => ({
          number: i.number,
          title: i.title,
          state: i.state,
          html_url: `https://github.com/${repo}/issues/${i.number}`,
          user: { login: i.author, type: 'User' },
          ...(i.isPullRequest ? { pull_request: { url: 'https://api.github.com/…' } } : {}),
        })),
      );
    }
    if (req.method === 'POST' && comment) {
      const [, repo = '', n = ''] = comment;
      if (
        typeof body !== 'object' ||
        body === null ||
        typeof (body as { body?: unknown }).body !== 'string'
      ) {
        return send(res, 422, { message: 'Validation Failed' });
      }
      const key = `${repo}#${n}`;
      comments.set(key, [...(comments.get(key) ?? []), (body as { body: string }).body]);
      const id = nextCommentId++;
      return send(res, 201, {
        id,
        html_url: `https://github.com/${repo}/issues/${n}#issuecomment-${id}`,
      });
    }
    send(res, 404, { message: 'Not Found' });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    calls,
    comments,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}
