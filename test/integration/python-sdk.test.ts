/**
 * The Python SDK (sdk/python/switchboard_mcp.py) against the gateway's own code: webhook
 * signatures it makes pass gateway/src/webhooks/signatures.ts, its handler result builders
 * parse with sdk/src/handlers.ts (strict schemas: a misspelt field fails), the copy vendored in
 * servers/notes is identical. The `switchboard init --lang python` scaffold, end to end, is
 * test/integration/init.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { handlerResultSchema, triggerSchema } from '@switchboard/sdk';
import { describe, expect, it } from 'vitest';
import { verifyWebhook } from '../../gateway/src/webhooks/signatures.ts';
import { REPO_ROOT } from '../helpers/gateway.ts';

const SDK_DIR = path.join(REPO_ROOT, 'sdk/python');
const MODULE = path.join(SDK_DIR, 'switchboard_mcp.py');

/** Runs `code` with the module importable as `sb`; `input` is on stdin; stdout parsed as JSON. */
function python(code: string, input = ''): unknown {
  const run = spawnSync(
    'python3',
    ['-B', '-c', `import json, sys\nimport switchboard_mcp as sb\n${code}`],
    {
      input,
      encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', PYTHONPATH: SDK_DIR },
    },
  );
  if (run.status !== 0) throw new Error(`python3 failed (${run.status}): ${run.stderr}`);
  return JSON.parse(run.stdout);
}

type Headers = Record<string, string>;

describe('signatures made by switchboard_mcp pass the gateway verifier', () => {
  const body = JSON.stringify({ text: 'héllo', n: 12, list: [1, 2, 3] });
  // One line of JSON (the secret), then the body: a body is passed byte for byte.
  const signed = (fn: string, secret: string): Headers =>
    python(
      `secret = json.loads(sys.stdin.readline())\nprint(json.dumps(sb.${fn}(secret, sys.stdin.read())))`,
      `${JSON.stringify(secret)}\n${body}`,
    ) as Headers;

  it.each([
    ['standard', 'sign_standard', 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['standard', 'sign_standard', 'MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
    ['github', 'sign_github', 'a github secret with spaces'],
    ['slack', 'sign_slack', '8f742231b10e8888abcd99yyyzzz85a5'],
  ] as const)('%s (%s, secret %s)', (scheme, fn, secret) => {
    const headers = signed(fn, secret);
    const verified = verifyWebhook({ scheme, secret, body: Buffer.from(body), headers });
    if (scheme === 'standard') expect(verified.deliveryId).toBe(headers['webhook-id']);
    if (scheme === 'github') expect(verified.deliveryId).toBe(headers['x-github-delivery']);
    if (scheme === 'slack') expect(verified.deliveryId).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The same headers on another body, or with another secret, are refused.
    expect(() => verifyWebhook({ scheme, secret, body: Buffer.from(`${body} `), headers })).toThrow(
      expect.objectContaining({ code: 'signature_invalid' }),
    );
    const other = scheme === 'standard' ? 'whsec_QUFBQUFBQUFBQUFBQUFBQUFBQUE=' : `${secret}x`;
    expect(() =>
      verifyWebhook({ scheme, secret: other, body: Buffer.from(body), headers }),
    ).toThrow(expect.objectContaining({ code: 'signature_invalid' }));
  });

  it('a fresh standard secret is one the gateway accepts', () => {
    const { secret, headers } = python(
      'secret = sb.new_standard_secret()\nprint(json.dumps({"secret": secret, "headers": sb.sign_standard(secret, "{}")}))',
    ) as { secret: string; headers: Headers };
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(
      verifyWebhook({ scheme: 'standard', secret, body: Buffer.from('{}'), headers }).deliveryId,
    ).toBe(headers['webhook-id']);
  });
});

describe('handler result builders parse with the sdk schemas', () => {
  it('every field of a trigger, a sync response, and the empty result', () => {
    const results = python(`print(json.dumps([
  sb.handler_result([
    sb.trigger("PR #42 opened", session_key="github:acme/api",
      dispatch=sb.dispatch_target("github", {"repo": "acme/api", "number": 42}),
      execution=sb.execution(preamble="Review this PR", tools=["github:get_pr", "github:*"],
        skills=["github/review"], model="m-1", profile="reviewer")),
    sb.trigger("context only", session_key="github:acme/api", run=False),
    sb.trigger("to the built-in", session_key="k:2", dispatch="none"),
  ], response=sb.webhook_response(201, {"ok": True}, headers={"Content-Type": "application/json"})),
  sb.handler_result(),
  sb.handler_result(response=sb.webhook_response(200, "plain text")),
] + [sb.handler_result([sb.trigger(f"event {i}", session_key=f"s:{i}")]) for i in range(30)]))`) as unknown[];
    expect(results).toHaveLength(33);
    for (const result of results) {
      // Strict schemas: an extra or misspelt key would fail; run is always written out.
      expect(handlerResultSchema.parse(result)).toEqual(result);
    }
    expect(results[0]).toEqual({
      triggers: [
        {
          session: {
            key: 'github:acme/api',
            dispatch: { type: 'github', config: { repo: 'acme/api', number: 42 } },
          },
          message: 'PR #42 opened',
          run: true,
          execution: {
            preamble: 'Review this PR',
            tools: ['github:get_pr', 'github:*'],
            skills: ['github/review'],
            model: 'm-1',
            profile: 'reviewer',
          },
        },
        { session: { key: 'github:acme/api' }, message: 'context only', run: false },
        {
          session: { key: 'k:2', dispatch: { type: 'none' } },
          message: 'to the built-in',
          run: true,
        },
      ],
      response: {
        status: 201,
        headers: { 'Content-Type': 'application/json' },
        body: { ok: true },
      },
    });
    expect(
      triggerSchema.safeParse({
        ...(results[0] as { triggers: object[] }).triggers[0],
        mesage: 'x',
      }).success,
    ).toBe(false);
  });
});

describe('the vendored copy', () => {
  it('servers/notes/switchboard_mcp.py is byte-identical to sdk/python/switchboard_mcp.py', () => {
    const vendored = readFileSync(path.join(REPO_ROOT, 'servers/notes/switchboard_mcp.py'));
    expect(
      vendored.equals(readFileSync(MODULE)),
      'copy sdk/python/switchboard_mcp.py over it',
    ).toBe(true);
  });
});
