/**
 * The github example ingests pull request descriptions as documents (issue 18): the real server
 * over stdio, given SWITCHBOARD_URL and SWITCHBOARD_API_KEY as the gateway gives a process of an
 * integration granted `documents`, posting to a real gateway. The key here is the `alpha`
 * fixture's (documents are filed under the key's own integration, whatever the server is).
 * Without the variables it ingests nothing and says so once on stderr.
 */
import { Client } from '@modelcontextprotocol/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  apiClient,
  DOCUMENT_FIXTURES,
  integrationKey,
  writeDocumentsPolicy,
} from '../helpers/documents.ts';
import { REPO_ROOT, useTestGateway } from '../helpers/gateway.ts';
import { manifestTransport } from '../helpers/server-transport.ts';

const SERVER_DIR = `${REPO_ROOT}servers/github/`;
const SERVER = { command: 'node', args: ['--import', 'tsx', 'src/server.ts'] };
const SETTINGS = {
  GITHUB_TOKEN: 'ghp_test_token_0123456789',
  GITHUB_WEBHOOK_SECRET: 'whsec-test',
  // Never called here: the handler only parses the delivery.
  GITHUB_API_URL: 'http://127.0.0.1:9',
};

const pr = (action: string, title: string, body: string | null, number = 42) => ({
  endpoint: 'events',
  headers: { 'x-github-event': 'pull_request', 'content-type': 'application/json' },
  body: JSON.stringify({
    action,
    number,
    repository: { full_name: 'acme/api' },
    sender: { login: 'octocat', type: 'User' },
    pull_request: {
      number,
      title,
      body,
      html_url: `https://github.com/acme/api/pull/${number}`,
      state: 'open',
      user: { login: 'octocat' },
    },
  }),
  deliveryId: `d-${action}-${number}`,
});

describe('the github example ingests PR descriptions', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: DOCUMENT_FIXTURES,
    SWITCHBOARD_POLICY: writeDocumentsPolicy(),
  });
  const api = apiClient(gw);
  const clients: Client[] = [];
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.close().catch(() => {})));
  });
  let withKey: Client;
  beforeAll(async () => {
    withKey = new Client({ name: 'github-documents-test', version: '0.0.0' });
    await withKey.connect(
      manifestTransport(SERVER_DIR, SERVER, {
        ...SETTINGS,
        SWITCHBOARD_URL: gw().url,
        SWITCHBOARD_API_KEY: await integrationKey(gw(), 'alpha'),
      }),
    );
    clients.push(withKey);
  });

  const search = async (q: string) =>
    (await api('GET', `/documents/search?q=${encodeURIComponent(q)}`)).body.results as Array<{
      id: string;
      externalKey: string;
      title: string;
      uri: string;
      integration: string;
      session: string;
    }>;

  it('a pull_request delivery becomes the document pr:<repo>#<n>; an edit replaces it', async () => {
    const opened = await withKey.callTool({
      name: 'on_webhook',
      arguments: pr('opened', 'Add dark mode', 'Adds a dark theme toggle.'),
    });
    expect(opened.isError).not.toBe(true);
    await expect.poll(() => search('dark theme'), { timeout: 20_000 }).toHaveLength(1);
    const [doc] = await search('dark theme');
    expect(doc).toMatchObject({
      externalKey: 'pr:acme/api#42',
      title: 'acme/api#42: Add dark mode',
      uri: 'https://github.com/acme/api/pull/42',
      integration: 'alpha',
      session: 'github:acme/api#42',
    });
    await withKey.callTool({
      name: 'on_webhook',
      arguments: pr('edited', 'Add dark mode', 'Now a high-contrast palette instead.'),
    });
    await expect.poll(() => search('palette'), { timeout: 20_000 }).toHaveLength(1);
    expect((await search('palette'))[0]?.id).toBe(doc?.id);
    expect(await search('toggle')).toEqual([]);
    // A PR without a body is still a document (its title).
    await withKey.callTool({ name: 'on_webhook', arguments: pr('opened', 'Bump zod', null, 43) });
    await expect.poll(() => search('zod'), { timeout: 20_000 }).toHaveLength(1);
  });

  it('without SWITCHBOARD_URL and SWITCHBOARD_API_KEY it ingests nothing, and says so once', async () => {
    const transport = manifestTransport(SERVER_DIR, SERVER, SETTINGS);
    let stderr = '';
    transport.stderr?.on('data', (chunk) => {
      stderr += String(chunk);
    });
    const client = new Client({ name: 'github-no-key', version: '0.0.0' });
    await client.connect(transport);
    clients.push(client);
    for (const n of [50, 51]) {
      const result = await client.callTool({
        name: 'on_webhook',
        arguments: pr('opened', `Quiet change ${n}`, 'Nothing to see: quietude.', n),
      });
      // The trigger is unaffected.
      expect(result.isError).not.toBe(true);
    }
    await expect.poll(() => stderr, { timeout: 10_000 }).toMatch(/are not ingested as documents/);
    expect(stderr.match(/are not ingested as documents/g)).toHaveLength(1);
    expect(await search('quietude')).toEqual([]);
  });
});
