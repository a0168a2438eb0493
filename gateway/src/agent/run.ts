import type { Client } from '@modelcontextprotocol/client';
import { z } from 'zod';
import { SwitchboardError } from '../errors.ts';
import type { AgentBundle } from './bundle.ts';
import { connectEndpoint, describeError, textOf } from './mcp.ts';
import { type Plan, parsePlan } from './plan.ts';

/**
 * The reference agent (issue 5): the minimum an agent does with its bundle.
 *   1. connect to the aggregate `/mcp` endpoint and to the built-in `switchboard` server;
 *   2. read the prompt with `task_context()` (or take the one it was given);
 *   3. a JSON plan: make each call in order, `task_progress` before each, stop at the first
 *      error; any other prompt: list the tools;
 *   4. `task_complete(result)`. A failure is not completed: the agent exits non-zero with the
 *      error on stderr, which the runner records as the task's failure.
 */

export interface AgentOptions {
  bundle: AgentBundle;
  /** The prompt, instead of asking task_context() (tests, and running the agent by hand). */
  prompt?: string | undefined;
  /** One line per step, to stderr. */
  log: (line: string) => void;
}

export async function runAgent(options: AgentOptions): Promise<void> {
  const { bundle, log } = options;
  const open: Client[] = [];
  try {
    const tools = await connect('mcp', bundle.mcp.url, () =>
      connectEndpoint(bundle.mcp, bundle.trace),
    );
    open.push(tools);
    const task = await connect('switchboard', bundle.switchboard.url, () =>
      connectEndpoint(bundle.switchboard, bundle.trace),
    );
    open.push(task);
    log(`task ${bundle.taskId}: connected to ${bundle.mcp.url} and ${bundle.switchboard.url}`);

    const prompt = options.prompt ?? (await promptFromContext(task));
    const plan = parsePlan(prompt);
    const result = plan ? await perform(plan, tools, task, log) : await summarize(tools, log);
    await builtIn(task, 'task_complete', { result });
    log(`completed (${result.length} characters of result)`);
  } finally {
    // Closing is best effort: the task's outcome is already decided and reported.
    await Promise.allSettled(open.map((c) => c.close()));
  }

  async function connect(name: string, url: string, go: () => Promise<Client>): Promise<Client> {
    try {
      return await go();
    } catch (error) {
      throw new SwitchboardError(
        'agent_step_failed',
        `cannot connect to ${name} at ${url}: ${describeError(error)}`,
      );
    }
  }
}

async function perform(plan: Plan, tools: Client, task: Client, log: (line: string) => void) {
  const total = plan.calls.length;
  log(`plan: ${total} call${total === 1 ? '' : 's'}`);
  let last = '';
  for (const [index, call] of plan.calls.entries()) {
    const step = `${call.tool} (${index + 1}/${total})`;
    // `progress` counts the calls already finished: 0/3 before the first, so it only grows
    // and reaches `total` with task_complete, as MCP progress must (monotonic, ≤ total).
    await builtIn(task, 'task_progress', { message: `calling ${step}`, progress: index, total });
    log(`calling ${step}`);
    let result: Awaited<ReturnType<Client['callTool']>>;
    try {
      // A progress token, and the 60 s request timeout restarted by each notification: a call
      // the gateway holds for approval (progress every 15 s) or a long tool lives on.
      result = await tools.callTool(
        { name: call.tool, arguments: call.arguments },
        { onprogress: () => {}, resetTimeoutOnProgress: true },
      );
    } catch (error) {
      throw new SwitchboardError('agent_step_failed', `${step} failed: ${describeError(error)}`);
    }
    if (result.isError)
      throw new SwitchboardError(
        'agent_step_failed',
        `${step} returned an error: ${textOf(result) || '(no text)'}`,
      );
    last = textOf(result);
    log(`${step} ok`);
  }
  return plan.result ?? last;
}

async function summarize(tools: Client, log: (line: string) => void): Promise<string> {
  log('the prompt is not a JSON plan: listing the tools');
  let names: string[];
  try {
    // With no cursor the SDK follows every page, so this is the whole list.
    names = (await tools.listTools()).tools.map((t) => t.name);
  } catch (error) {
    throw new SwitchboardError('agent_step_failed', `tools/list failed: ${describeError(error)}`);
  }
  log(`${names.length} tools`);
  return `${names.length} tool${names.length === 1 ? '' : 's'} available: ${names.join(', ')}`;
}

/** A call to a built-in task tool; any failure there is the agent's failure. */
async function builtIn(task: Client, name: string, args: Record<string, unknown>) {
  let result: Awaited<ReturnType<Client['callTool']>>;
  try {
    result = await task.callTool({ name, arguments: args });
  } catch (error) {
    throw new SwitchboardError(
      'agent_step_failed',
      `switchboard ${name} failed: ${describeError(error)}`,
    );
  }
  if (result.isError)
    throw new SwitchboardError(
      'agent_step_failed',
      `switchboard ${name} returned an error: ${textOf(result)}`,
    );
  return result;
}

/**
 * `task_context()` answers with the prompt: `structuredContent.prompt`, or the same object as
 * JSON in its first text block for servers that send no structured content.
 */
const contextSchema = z.object({ prompt: z.string() });

async function promptFromContext(task: Client): Promise<string> {
  const result = await builtIn(task, 'task_context', {});
  const structured = contextSchema.safeParse(result.structuredContent);
  if (structured.success) return structured.data.prompt;
  let fromText: unknown;
  try {
    fromText = JSON.parse(textOf(result));
  } catch {
    fromText = undefined;
  }
  const parsed = contextSchema.safeParse(fromText);
  if (!parsed.success)
    throw new SwitchboardError(
      'agent_step_failed',
      'switchboard task_context answered without a string `prompt`',
    );
  return parsed.data.prompt;
}
