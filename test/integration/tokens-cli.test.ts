import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { testDatabase } from '../helpers/database.ts';
import { ADMIN_KEY, REPO_ROOT, runSwitchboard, useTestGateway } from '../helpers/gateway.ts';

// The operator's side of per-task tokens (issue 4): `switchboard token grant`, `switchboard task
// end` (revokes), `switchboard keys rotate-signing`.
const FIXTURES = path.join(REPO_ROOT, 'test/fixtures/integrations');

describe('switchboard token / task', () => {
  const gw = useTestGateway({
    INTEGRATION_DIRS: FIXTURES,
    SWITCHBOARD_POLICY: path.join(FIXTURES, 'policy.yaml'),
  });
  const cli = (...args: string[]) =>
    runSwitchboard(args, { SWITCHBOARD_URL: gw().url, SWITCHBOARD_API_KEY: ADMIN_KEY });

  it('grant prints the /mcp token on stdout and the endpoints on stderr; task end revokes it', async () => {
    const granted = await cli('token', 'grant', '--scope', 'echo:*', '--ttl', '10m');
    expect(granted.code, granted.stderr).toBe(0);
    const token = granted.stdout.trim();
    expect(token.split('.')).toHaveLength(3);
    const taskId = /^task (\S+), tokens expire /m.exec(granted.stderr)?.[1];
    expect(granted.stderr).toContain(`${gw().url}/mcp  (the token above)`);
    expect(granted.stderr).toMatch(new RegExp(`^  ${gw().url}/mcp/echo  \\S+\\.\\S+\\.\\S+$`, 'm'));
    expect(await gw().tokens.verify(token, `${gw().url}/mcp`)).toMatchObject({ taskId });

    const ended = await cli('task', 'end', taskId!, '--cancel', '--reason', 'done testing');
    expect(ended).toMatchObject({
      code: 0,
      stdout: `task ${taskId} cancelled; its tokens are revoked\n`,
    });
    await expect(gw().tokens.verify(token, `${gw().url}/mcp`)).rejects.toMatchObject({
      message: 'the token has been revoked',
    });
    const again = await cli('task', 'end', taskId!);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`409 task ${taskId} has already ended (cancelled)`);
  });

  it('--json prints every token; bad input is a usage error before any request', async () => {
    const json = await cli('token', 'grant', '--scope', 'echo:report_env', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      mcp: { url: `${gw().url}/mcp` },
      integrations: [{ name: 'echo', scope: ['echo:report_env'] }],
    });
    const bad = await cli('token', 'grant', '--scope', 'echo');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--scope "echo": expected integration:tool');
    const tooLong = await cli('token', 'grant', '--scope', 'echo:*', '--ttl', '5h');
    expect(tooLong.code).toBe(1);
    expect(tooLong.stderr).toContain("expected at most the policy's maxTtl (2h)");
  });
});

describe('switchboard keys rotate-signing', () => {
  it('adds a key that signs after the overlap and says until when the old one verifies', async () => {
    const db = await testDatabase();
    try {
      const env = { ...db.env, SWITCHBOARD_MASTER_KEY: '5a'.repeat(32) };
      const first = await runSwitchboard(['keys', 'rotate-signing', '--overlap', '10m'], env);
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toMatch(
        /^signing key [A-Za-z0-9_-]{43} is published now and signs from \S+; the previous key verifies until \S+\n$/,
      );
      const bad = await runSwitchboard(['keys', 'rotate-signing', '--overlap', 'later'], env);
      expect(bad.code).toBe(2);
    } finally {
      await db.cleanup();
    }
  });
});
