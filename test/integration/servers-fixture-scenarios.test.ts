import { Client } from '@modelcontextprotocol/client';
import { afterAll, describe, expect, it } from 'vitest';
import { firstText, fixtureTransport } from '../helpers/fixture-server.ts';

describe('servers/fixture names of the newer conformance scenarios', () => {
  const elicited: Array<{ message: string; properties: Record<string, Record<string, unknown>> }> =
    [];

  /** A client answering every kind of input (elicitation, sampling, roots). */
  async function answeringClient(mode: 'legacy' | 'auto', capabilities = true): Promise<Client> {
    const client = new Client(
      { name: 'servers-fixture-input', version: '0.0.0' },
      {
        capabilities: capabilities ? { elicitation: { form: {} }, sampling: {}, roots: {} } : {},
        ...(mode === 'auto' && { versionNegotiation: { mode: 'auto' } }),
      },
    );
    if (capabilities) {
      client.setRequestHandler('elicitation/create', (request) => {
        const params = request.params as {
          message: string;
          requestedSchema?: { properties?: Record<string, Record<string, unknown>> };
        };
        elicited.push({
          message: params.message,
          properties: params.requestedSchema?.properties ?? {},
        });
        return {
          action: 'accept',
          content: { name: 'Alice', ok: true, color: 'blue', context: 'docs' },
        };
      });
      client.setRequestHandler('sampling/createMessage', () => ({
        role: 'assistant',
        model: 'test-model',
        content: { type: 'text', text: 'Paris' },
      }));
      client.setRequestHandler('roots/list', () => ({
        roots: [{ uri: 'file:///work', name: 'work' }],
      }));
    }
    await client.connect(fixtureTransport());
    return client;
  }

  const opened: Client[] = [];
  afterAll(async () => {
    await Promise.all(opened.map((c) => c.close()));
  });
  const open = async (mode: 'legacy' | 'auto', capabilities = true) => {
    const client = await answeringClient(mode, capabilities);
    opened.push(client);
    return client;
  };

  it('multi-round-trip tools and the prompt complete once the client answers, on both eras (SEP-2322)', async () => {
    for (const mode of ['auto', 'legacy'] as const) {
      const client = await open(mode);
      expect(client.getNegotiatedProtocolVersion()).toBe(
        mode === 'auto' ? '2026-07-28' : '2025-11-25',
      );
      const call = async (name: string) => firstText((await client.callTool({ name })).content);
      expect(await call('test_input_required_result_elicitation')).toBe('Hello, Alice!');
      expect(await call('test_input_required_result_sampling')).toBe('Sampling answer: Paris');
      expect(await call('test_input_required_result_list_roots')).toBe(
        'Client roots: file:///work',
      );
      expect(await call('test_input_required_result_request_state')).toContain('state-ok');
      expect(await call('test_input_required_result_multiple_inputs')).toBe(
        'All inputs received for Alice (1 roots)',
      );
      expect(await call('test_input_required_result_multi_round')).toBe('Alice likes blue');
      expect(await call('test_input_required_result_tampered_state')).toBe('state verified');
      expect(await call('test_input_required_result_capabilities')).toBe(
        'Received: client_roots, greeting, user_name',
      );
      const prompt = await client.getPrompt({ name: 'test_input_required_result_prompt' });
      expect(prompt.messages[0]?.content).toEqual({
        type: 'text',
        text: 'Prompt for context: docs',
      });
    }
  });

  it('refuses a tampered requestState with -32602 (SEP-2322 integrity)', async () => {
    const client = new Client(
      { name: 'servers-fixture-manual', version: '0.0.0' },
      {
        capabilities: { elicitation: { form: {} } },
        versionNegotiation: { mode: 'auto' },
        inputRequired: { autoFulfill: false },
      },
    );
    await client.connect(fixtureTransport());
    opened.push(client);
    const name = 'test_input_required_result_tampered_state';
    const first = (await client.request(
      { method: 'tools/call', params: { name, arguments: {} } },
      { allowInputRequired: true },
    )) as unknown as { resultType?: string; requestState?: string };
    expect(first.resultType).toBe('input_required');
    expect(first.requestState).toEqual(expect.any(String));
    const retry = (requestState: string) =>
      client.request(
        {
          method: 'tools/call',
          params: {
            name,
            arguments: {},
            inputResponses: { confirm: { action: 'accept', content: { ok: true } } },
            requestState,
          },
        },
        { allowInputRequired: true },
      );
    await expect(retry(`${first.requestState}-TAMPERED`)).rejects.toMatchObject({ code: -32602 });
    const honest = (await retry(first.requestState ?? '')) as { content?: unknown };
    expect(firstText(honest.content)).toBe('state verified');
  });

  it('test_missing_capability is refused with -32021 naming sampling when the client lacks it', async () => {
    const bare = await open('auto', false);
    await expect(bare.callTool({ name: 'test_missing_capability' })).rejects.toMatchObject({
      code: -32021,
      data: { requiredCapabilities: { sampling: {} } },
    });
    const able = await open('auto');
    const result = await able.callTool({ name: 'test_missing_capability' });
    expect(firstText(result.content)).toBe('The client declared sampling and answered');
  });

  it('elicits the SEP-1034 defaults and the SEP-1330 enum shapes', async () => {
    const client = await open('legacy');
    elicited.length = 0;
    const defaults = await client.callTool({ name: 'test_elicitation_sep1034_defaults' });
    expect(firstText(defaults.content)).toMatch(/^Elicitation completed: action=accept, content=/);
    expect(elicited[0]?.properties).toMatchObject({
      name: { type: 'string', default: 'John Doe' },
      age: { type: 'integer', default: 30 },
      score: { type: 'number', default: 95.5 },
      status: { type: 'string', enum: ['active', 'inactive', 'pending'], default: 'active' },
      verified: { type: 'boolean', default: true },
    });
    await client.callTool({ name: 'test_elicitation_sep1330_enums' });
    expect(Object.keys(elicited[1]?.properties ?? {})).toEqual([
      'untitledSingle',
      'titledSingle',
      'legacyEnum',
      'untitledMulti',
      'titledMulti',
    ]);
    expect(elicited[1]?.properties.legacyEnum).toMatchObject({
      enumNames: ['Option One', 'Option Two', 'Option Three'],
    });
  });

  it('the trigger tools toggle test_dynamic_tool and test_dynamic_prompt with list_changed', async () => {
    const client = await open('legacy');
    const changed: string[] = [];
    client.setNotificationHandler('notifications/tools/list_changed', () => {
      changed.push('tools');
    });
    client.setNotificationHandler('notifications/prompts/list_changed', () => {
      changed.push('prompts');
    });
    const toolNames = async () => (await client.listTools()).tools.map((t) => t.name);
    expect(await toolNames()).not.toContain('test_dynamic_tool');
    await client.callTool({ name: 'test_trigger_tool_change' });
    await client.callTool({ name: 'test_trigger_prompt_change' });
    await expect.poll(() => changed).toEqual(['tools', 'prompts']);
    expect(await toolNames()).toContain('test_dynamic_tool');
    expect((await client.listPrompts()).prompts.map((p) => p.name)).toContain(
      'test_dynamic_prompt',
    );
    await client.callTool({ name: 'test_trigger_tool_change' });
    expect(await toolNames()).not.toContain('test_dynamic_tool');
  });

  it('lists json_schema_2020_12_tool with its 2020-12 keywords intact', async () => {
    const client = await open('auto', false);
    const tool = (await client.listTools()).tools.find(
      (t) => t.name === 'json_schema_2020_12_tool',
    );
    expect(tool?.inputSchema).toMatchObject({
      $schema: 'https://json-schema.org/draft/2020-12/schema',
      $defs: { address: { $anchor: 'addressDef' } },
      allOf: [{ anyOf: [{ required: ['phone'] }, { required: ['email'] }] }],
      if: expect.any(Object),
      else: { required: ['email'] },
      additionalProperties: false,
    });
    expect(Object.hasOwn(tool?.inputSchema ?? {}, 'then')).toBe(true);
  });
});
