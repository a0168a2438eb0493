import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY } from '../helpers/gateway.ts';
import { type GatewayProcess, startGatewayProcess } from '../helpers/gateway-process.ts';

// Issue 12 item 6: `node gateway/bin/switchboard.js start` (the Docker image's CMD) has no
// `switchboard` on PATH, and the development policy's `scripted` profile used to name that
// command: every scripted task failed with spawn_failed. The gateway runs its own CLI now
// (`command: "{switchboard}"`), so the shipped policy works from any PATH.

/** This PATH without any folder holding a `switchboard` (npm puts node_modules/.bin first). */
const PATH_WITHOUT_CLI = (process.env.PATH ?? '/usr/bin:/bin')
  .split(path.delimiter)
  .filter((dir) => dir !== '' && !fs.existsSync(path.join(dir, 'switchboard')))
  .join(path.delimiter);

type Json = Record<string, unknown>;

describe('the development policy’s scripted profile, with no switchboard on PATH', () => {
  let gw: GatewayProcess;
  const api = async (method: string, route: string, body?: unknown) => {
    const res = await fetch(`${gw.url}/api/v1${route}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, json: (await res.json()) as Json };
  };

  beforeAll(async () => {
    // No SWITCHBOARD_POLICY: `start` loads policy/default.yaml as a new user's gateway does.
    gw = await startGatewayProcess({ PATH: PATH_WITHOUT_CLI });
  });
  afterAll(async () => {
    await gw?.cleanup();
  });

  it('runs a scripted task to complete', async () => {
    for (const dir of PATH_WITHOUT_CLI.split(path.delimiter)) {
      expect(fs.existsSync(path.join(dir, 'switchboard')), dir).toBe(false);
    }
    const created = await api('POST', '/tasks', { profile: 'scripted', prompt: 'list the tools' });
    expect(created.status, JSON.stringify(created.json)).toBe(201);
    const id = (created.json.task as { id: string }).id;
    let task: Json = {};
    // The agent lists the (no) tools and calls task_complete: seconds on a busy machine.
    for (let i = 0; i < 600; i++) {
      task = (await api('GET', `/tasks/${id}`)).json.task as Json;
      if (!['pending', 'running'].includes(task.status as string)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(task, JSON.stringify(task)).toMatchObject({ status: 'complete', reason: null });
    expect(String(task.result)).toContain('tool');
  });
});
