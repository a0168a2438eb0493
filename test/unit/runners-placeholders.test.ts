import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildBundle } from '../../gateway/src/runners/bundle.ts';
import { createRunner } from '../../gateway/src/runners/drivers.ts';
import {
  checkArgs,
  expandArgs,
  PLACEHOLDERS,
  placeholderValues,
  resolveCommand,
  Tail,
} from '../../gateway/src/runners/runner.ts';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

const bundle = buildBundle({
  publicUrl: 'http://gw.test:8080',
  taskId: 't1',
  sessionId: 's1',
  token: 'tok',
  integrations: [],
  switchboardServer: { url: 'http://gw.test:8080/mcp/switchboard', token: 'tok-sb' },
});
const prompt = 'say "hi"; rm -rf / $(whoami) `id` {workdir}';
const values = placeholderValues({ prompt, bundle }, '/tmp/w');

describe('placeholders', () => {
  it('fills every placeholder, each arg staying one argv element', () => {
    expect(values).toEqual({
      prompt,
      prompt_file: '/tmp/w/prompt.txt',
      workdir: '/tmp/w',
      task_id: 't1',
      session_id: 's1',
      mcp_url: 'http://gw.test:8080/mcp',
      mcp_json: '/tmp/w/.mcp.json',
      config_toml: '/tmp/w/.codex/config.toml',
      cursor_json: '/tmp/w/.cursor/mcp.json',
      goose_yaml: '/tmp/w/.config/goose/config.yaml',
      switchboard_json: '/tmp/w/switchboard.json',
      claude_allowed_tools: 'mcp__switchboard',
    });
    expect(Object.keys(values).sort()).toEqual([...PLACEHOLDERS].sort());
    expect(
      expandArgs(['-p', '{prompt}', '--mcp-config={mcp_json}', '{task_id}/{session_id}'], values),
    ).toEqual(['-p', prompt, '--mcp-config=/tmp/w/.mcp.json', 't1/s1']);
  });

  it('gives a value that would start an option a leading space, except after a literal --', () => {
    const hostile = placeholderValues({ prompt: '--yolo', bundle }, '/tmp/w');
    expect(expandArgs(['{prompt}', '-p', '{prompt}', '--x={prompt}'], hostile)).toEqual([
      ' --yolo',
      '-p',
      ' --yolo',
      '--x=--yolo',
    ]);
    expect(expandArgs(['-p', '--', '{prompt}'], hostile)).toEqual(['-p', '--', '--yolo']);
    expect(expandArgs(['{prompt}', '--'], hostile)).toEqual([' --yolo', '--']);
  });

  it('does not expand placeholders inside a value, and {{ }} are literal braces', () => {
    expect(expandArgs(['{prompt}'], values)).toEqual([prompt]); // its "{workdir}" stays
    expect(expandArgs(['{{"a": {task_id}}}'], values)).toEqual(['{"a": t1}']);
  });

  it('rejects an unknown placeholder or a lone brace, naming the arg', () => {
    expect(() => checkArgs(['ok', '{mcp_jsn}'])).toThrow(
      /args\[1\]: unknown placeholder \{mcp_jsn\}/,
    );
    expect(() => checkArgs(['{prompt'])).toThrow(/args\[0\]: a lone \{/);
    expect(() => checkArgs(['x}'])).toThrow(/a lone \}/);
    expect(() => checkArgs(['{}'])).toThrow(/unknown placeholder \{\}/);
  });

  it('is checked when a runner is created from a profile, for every driver', () => {
    for (const config of [
      { driver: 'process' as const, command: 'claude', args: ['{nope}'] },
      { driver: 'docker' as const, image: 'agent:1', args: ['{nope}'] },
      { driver: 'kubernetes' as const, image: 'agent:1', args: ['{nope}'] },
    ])
      expect(() => createRunner(config)).toThrow(
        expect.objectContaining({ code: 'profile_invalid' }),
      );
    expect(() =>
      createRunner({ driver: 'process', command: 'claude', args: ['-p', '{prompt}'] }),
    ).not.toThrow();
  });

  it('{switchboard} as a command is the gateway’s own CLI, for the process driver only', () => {
    expect(resolveCommand('{switchboard}')).toEqual({
      command: process.execPath,
      prefix: [path.join(REPO_ROOT, 'gateway/bin/switchboard.js')],
    });
    expect(fs.existsSync(resolveCommand('{switchboard}').prefix[0]!)).toBe(true);
    expect(resolveCommand('claude')).toEqual({ command: 'claude', prefix: [] });
    expect(() =>
      createRunner({ driver: 'process', command: '{switchboard}', args: [] }),
    ).not.toThrow();
    expect(() => createRunner({ driver: 'process', command: '{claude}', args: [] })).toThrow(
      /runner.command: found "\{claude\}"; the only placeholder a command may be is \{switchboard\}/,
    );
    for (const driver of ['docker', 'kubernetes'] as const)
      expect(() =>
        createRunner({ driver, image: 'agent:1', command: '{switchboard}', args: [] }),
      ).toThrow(`runs with the process driver only; under ${driver}`);
  });
});

describe('Tail', () => {
  it('keeps the last characters of stdout', () => {
    const tail = new Tail(10);
    for (const line of ['aaaa', 'bbbb', 'cccc']) tail.push(line);
    expect(tail.toString()).toBe('bbbb\ncccc');
    tail.push('0123456789');
    expect(tail.toString()).toBe('0123456789');
  });
});
