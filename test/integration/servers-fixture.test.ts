import { Client } from '@modelcontextprotocol/client';
import type { StdioClientTransport } from '@modelcontextprotocol/client/stdio';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { firstMedia, firstText, fixtureTransport } from '../helpers/fixture-server.ts';

describe('servers/fixture over stdio', () => {
  let client: Client;
  let transport: StdioClientTransport;
  const logs: string[] = [];

  beforeAll(async () => {
    client = new Client(
      { name: 'servers-fixture-test', version: '0.0.0' },
      { capabilities: { sampling: {}, elicitation: { form: {} } } },
    );
    client.setRequestHandler('sampling/createMessage', (request) => {
      const first = request.params.messages[0]?.content;
      const prompt = first && !Array.isArray(first) && first.type === 'text' ? first.text : '';
      return {
        role: 'assistant',
        model: 'test-model',
        content: { type: 'text', text: `echo: ${prompt}` },
      };
    });
    client.setRequestHandler('elicitation/create', () => ({
      action: 'accept',
      content: { username: 'octocat', email: 'octo@example.com' },
    }));
    client.setNotificationHandler('notifications/message', (notification) => {
      logs.push(String(notification.params.data));
    });
    transport = fixtureTransport();
    const started = performance.now();
    await client.connect(transport);
    await client.listTools();
    console.log(
      `fixture cold spawn → first tools/list: ${(performance.now() - started).toFixed(0)} ms`,
    );
  });

  afterAll(async () => {
    await client?.close();
  });

  it('lists every fixture tool, resource and prompt', async () => {
    const tools = (await client.listTools()).tools.map((t) => t.name).sort();
    expect(tools).toEqual(
      [
        'crash',
        'list_numbers',
        'report_env',
        'sleep',
        'test_audio_content',
        'test_elicitation',
        'test_embedded_resource',
        'test_error_handling',
        'test_image_content',
        'test_multiple_content_types',
        'test_sampling',
        'test_simple_text',
        'test_tool_with_logging',
        'test_tool_with_progress',
        // Newer conformance scenarios (diagnostics.ts, input-required.ts).
        'json_schema_2020_12_tool',
        'test_custom_headers',
        'test_elicitation_sep1034_defaults',
        'test_elicitation_sep1330_enums',
        'test_input_required_result_capabilities',
        'test_input_required_result_elicitation',
        'test_input_required_result_list_roots',
        'test_input_required_result_multi_round',
        'test_input_required_result_multiple_inputs',
        'test_input_required_result_request_state',
        'test_input_required_result_sampling',
        'test_input_required_result_tampered_state',
        'test_logging_tool',
        'test_missing_capability',
        'test_streaming_elicitation',
        'test_trigger_prompt_change',
        'test_trigger_tool_change',
        // The MCP tasks scenarios (mcp-task-tools.ts, SEP-2663).
        'confirm_delete',
        'failing_job',
        'greet',
        'multi_input',
        'protocol_error_job',
        'slow_compute',
        'slow_write',
        'test_tool_with_task',
      ].sort(),
    );
    const resources = (await client.listResources()).resources.map((r) => r.uri).sort();
    expect(resources).toEqual([
      'test://static-binary',
      'test://static-text',
      'test://watched-resource',
    ]);
    const templates = (await client.listResourceTemplates()).resourceTemplates.map(
      (t) => t.uriTemplate,
    );
    expect(templates).toEqual(['test://template/{id}/data']);
    const prompts = (await client.listPrompts()).prompts.map((p) => p.name).sort();
    expect(prompts).toEqual([
      'test_input_required_result_prompt',
      'test_prompt_with_arguments',
      'test_prompt_with_embedded_resource',
      'test_prompt_with_image',
      'test_simple_prompt',
    ]);
  });

  it('returns each content type', async () => {
    const text = await client.callTool({ name: 'test_simple_text', arguments: {} });
    expect(firstText(text.content)).toBe('This is a simple text response for testing.');

    const image = await client.callTool({ name: 'test_image_content', arguments: {} });
    expect(image.content).toEqual([
      { type: 'image', mimeType: 'image/png', data: expect.any(String) },
    ]);
    expect(firstMedia(image.content).bytes.subarray(1, 4).toString('ascii')).toBe('PNG');

    const audio = await client.callTool({ name: 'test_audio_content', arguments: {} });
    const wav = firstMedia(audio.content);
    expect(wav).toMatchObject({ type: 'audio', mimeType: 'audio/wav' });
    expect(wav.bytes.subarray(0, 4).toString('ascii')).toBe('RIFF');
    expect(wav.bytes.subarray(8, 12).toString('ascii')).toBe('WAVE');

    const embedded = await client.callTool({ name: 'test_embedded_resource', arguments: {} });
    expect(embedded.content).toEqual([
      {
        type: 'resource',
        resource: expect.objectContaining({
          uri: 'test://embedded-resource',
          text: expect.any(String),
        }),
      },
    ]);

    const mixed = await client.callTool({ name: 'test_multiple_content_types', arguments: {} });
    expect((mixed.content as { type: string }[]).map((c) => c.type)).toEqual([
      'text',
      'image',
      'resource',
    ]);

    const failed = await client.callTool({ name: 'test_error_handling', arguments: {} });
    expect(failed.isError).toBe(true);
    expect(firstText(failed.content)).toMatch(/intentionally/);
  });

  it('sends log and progress notifications while a tool runs', async () => {
    await client.setLoggingLevel('debug');
    const logged = await client.callTool({ name: 'test_tool_with_logging', arguments: {} });
    expect(firstText(logged.content)).toMatch(/successfully/);
    expect(logs).toEqual([
      'Tool execution started',
      'Tool processing data',
      'Tool execution completed',
    ]);

    const progress: number[] = [];
    const result = await client.callTool(
      { name: 'test_tool_with_progress', arguments: {} },
      { onprogress: (p) => progress.push(p.progress) },
    );
    expect(firstText(result.content)).toBe('Completed 5 steps');
    expect(progress).toEqual([1, 2, 3, 4, 5]);
  });

  it('asks the client for sampling and elicitation', async () => {
    const sampled = await client.callTool({ name: 'test_sampling', arguments: { prompt: 'hi' } });
    expect(firstText(sampled.content)).toBe('LLM response: echo: hi');

    const elicited = await client.callTool({ name: 'test_elicitation', arguments: {} });
    expect(firstText(elicited.content)).toBe(
      'User response: action=accept, content={"username":"octocat","email":"octo@example.com"}',
    );
  });

  it('reads static, binary and templated resources and completes', async () => {
    const text = await client.readResource({ uri: 'test://static-text' });
    expect(text.contents).toEqual([
      expect.objectContaining({
        uri: 'test://static-text',
        text: expect.stringContaining('static text'),
      }),
    ]);
    const binary = await client.readResource({ uri: 'test://static-binary' });
    const blob = z.object({ blob: z.string() }).parse(binary.contents[0]).blob;
    expect([...Buffer.from(blob, 'base64')]).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    const templated = await client.readResource({ uri: 'test://template/42/data' });
    const json = z.object({ text: z.string() }).parse(templated.contents[0]).text;
    expect(JSON.parse(json)).toMatchObject({ id: '42' });
    await expect(client.subscribeResource({ uri: 'test://watched-resource' })).resolves.toEqual({});

    const completion = await client.complete({
      ref: { type: 'ref/resource', uri: 'test://template/{id}/data' },
      argument: { name: 'id', value: '4' },
    });
    expect(completion.completion.values).toEqual(['42']);
  });

  it('gets every prompt and completes prompt arguments', async () => {
    const simple = await client.getPrompt({ name: 'test_simple_prompt' });
    expect(simple.messages).toHaveLength(1);
    const withArgs = await client.getPrompt({
      name: 'test_prompt_with_arguments',
      arguments: { arg1: 'a', arg2: 'b' },
    });
    expect(withArgs.messages[0]?.content).toEqual({
      type: 'text',
      text: "Prompt with arguments: arg1='a', arg2='b'",
    });
    const embedded = await client.getPrompt({
      name: 'test_prompt_with_embedded_resource',
      arguments: { resourceUri: 'test://static-text' },
    });
    expect(embedded.messages[0]?.content).toMatchObject({
      type: 'resource',
      resource: { uri: 'test://static-text' },
    });
    const image = await client.getPrompt({ name: 'test_prompt_with_image' });
    expect(image.messages[0]?.content).toMatchObject({ type: 'image', mimeType: 'image/png' });

    const completion = await client.complete({
      ref: { type: 'ref/prompt', name: 'test_prompt_with_arguments' },
      argument: { name: 'arg1', value: 'b' },
    });
    expect(completion.completion.values).toEqual(['beta']);
  });

  it('report_env shows only PATH and HOME (no gateway variables)', async () => {
    const result = await client.callTool({ name: 'report_env', arguments: {} });
    const env = z.record(z.string(), z.string()).parse(JSON.parse(firstText(result.content)));
    expect(env).not.toHaveProperty('DATABASE_URL');
    expect(Object.keys(env).sort()).toEqual(['HOME', 'PATH']);
  });

  it('sleep answers after the delay', async () => {
    const started = performance.now();
    const result = await client.callTool({ name: 'sleep', arguments: { ms: 200 } });
    expect(firstText(result.content)).toBe('Slept 200 ms');
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
  });
});

describe('servers/fixture with a version-negotiating client', () => {
  it('serves the 2026-07-28 era over stdio too', async () => {
    const client = new Client(
      { name: 'servers-fixture-modern', version: '0.0.0' },
      { versionNegotiation: { mode: 'auto' } },
    );
    try {
      await client.connect(fixtureTransport());
      expect(client.getNegotiatedProtocolVersion()).toBe('2026-07-28');
      const result = await client.callTool({ name: 'test_simple_text', arguments: {} });
      expect(firstText(result.content)).toBe('This is a simple text response for testing.');
      // test_sampling asks with input_required on this era; a client that declared no sampling
      // is refused by the fixture's SDK with -32021 instead of being asked.
      const refused: unknown = await client.callTool({ name: 'test_sampling', arguments: {} }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect((refused as { code?: number }).code).toBe(-32021);
    } finally {
      await client.close();
    }
  });
});

describe('servers/fixture crash tool', () => {
  it('exits the process with code 1 after the delay', async () => {
    const client = new Client({ name: 'servers-fixture-crash', version: '0.0.0' });
    const transport = fixtureTransport();
    const closed = new Promise<void>((resolve) => {
      client.onclose = () => resolve();
    });
    let stderr = '';
    transport.stderr?.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    await client.connect(transport);
    const pid = transport.pid;
    const result = await client.callTool({ name: 'crash', arguments: { delayMs: 50 } });
    expect(firstText(result.content)).toBe('Crashing in 50 ms');
    await closed;
    expect(stderr).toContain('exiting with code 1 in 50 ms');
    expect(pid).toBeGreaterThan(0);
    // The process is gone: signal 0 probes existence without delivering anything.
    expect(() => process.kill(pid ?? 0, 0)).toThrow('kill ESRCH');
  });
});
