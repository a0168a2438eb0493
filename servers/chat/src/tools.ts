import type { CallToolResult, McpServer } from '@modelcontextprotocol/server';
import * as z from 'zod';
import { ChannelName, type ChannelStore, MessageText } from './store.ts';
import { TaskEventInput, type TaskReactions } from './task-events.ts';
import { handleWebhook, WebhookInput } from './webhook.ts';

/** list_messages answers at most 200 messages, Slack's conversations.history page limit. */
const MAX_LIST_LIMIT = 200;
/** Name the integration posts under, like a Slack bot user. */
const BOT_USER = 'switchboard';

const DeliverInput = z.object({
  task: z.looseObject({
    id: z.string(),
    result: z.unknown().optional(),
    error: z.unknown().optional(),
  }),
  session: z.looseObject({ id: z.string().optional(), key: z.string().optional() }).optional(),
  dispatch: z.object({
    type: z.literal('chat'),
    config: z.object({ channel: ChannelName, threadTs: z.string().optional() }),
  }),
});

/**
 * A held tool call of a task in a chat session (the gateway's approval request, sdk
 * approvalRequestInputSchema): posted in the thread so the people there see it. Deciding is
 * not the chat's: it takes an operator key (`switchboard approvals approve|deny <id>`).
 */
const AskApprovalInput = z.object({
  approval: z.looseObject({
    id: z.string(),
    integration: z.string(),
    tool: z.string(),
    rule: z.string(),
    arguments: z.unknown().optional(),
    message: z.string().optional(),
    expiresAt: z.string(),
  }),
  session: z.looseObject({ id: z.string().optional(), key: z.string().optional() }).optional(),
  dispatch: DeliverInput.shape.dispatch,
});

/** The arguments as the thread shows them: 500 characters are enough to recognise a call. */
const SHOWN_ARGUMENT_CHARS = 500;

export function approvalText(approval: z.infer<typeof AskApprovalInput>['approval']): string {
  const args = JSON.stringify(approval.arguments ?? {});
  const shown =
    args.length > SHOWN_ARGUMENT_CHARS ? `${args.slice(0, SHOWN_ARGUMENT_CHARS)}…` : args;
  return [
    `Approval needed: ${approval.integration}:${approval.tool} ${shown}`,
    ...(approval.message ? [approval.message] : []),
    `Approve: switchboard approvals approve ${approval.id}`,
    `Deny: switchboard approvals deny ${approval.id} --reason "…" (expires ${approval.expiresAt})`,
  ].join('\n');
}

function ok(text: string, structuredContent: Record<string, unknown>): CallToolResult {
  return { content: [{ type: 'text', text }], structuredContent };
}

function resultText(task: z.infer<typeof DeliverInput>['task']): string {
  const value = task.error ?? task.result ?? `Task ${task.id} finished without a result.`;
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return task.error === undefined || task.error === null ? text : `Task ${task.id} failed: ${text}`;
}

export function registerTools(
  server: McpServer,
  store: ChannelStore,
  reactions: TaskReactions,
): void {
  server.registerTool(
    'post_message',
    {
      description: 'Post a message to a channel',
      inputSchema: z.object({ channel: ChannelName, text: MessageText }),
    },
    ({ channel, text }) => {
      const message = store.post({ channel, text, user: BOT_USER, bot: true });
      return ok(`Posted ${message.ts} to #${channel}`, { ok: true, channel, ts: message.ts });
    },
  );

  server.registerTool(
    'list_messages',
    {
      description: `The newest messages of a channel, oldest first (limit 1–${MAX_LIST_LIMIT}, default 20)`,
      inputSchema: z.object({
        channel: ChannelName,
        limit: z.number().int().min(1).max(MAX_LIST_LIMIT).default(20),
      }),
      annotations: { readOnlyHint: true },
    },
    ({ channel, limit }) => {
      const messages = store.list(channel, limit);
      const lines = messages.map((m) => `[${m.ts}] ${m.user}: ${m.text}`);
      return ok(lines.join('\n') || `#${channel} has no messages.`, { messages });
    },
  );

  server.registerTool(
    'on_webhook',
    {
      description: 'Gateway only: turn a verified Slack-style event into triggers',
      inputSchema: WebhookInput,
    },
    (input): CallToolResult => {
      try {
        const result = handleWebhook(input, store);
        return ok(`${result.triggers.length} trigger(s)`, result);
      } catch (error) {
        return {
          content: [{ type: 'text', text: `Bad event body: ${(error as Error).message}` }],
          isError: true,
        };
      }
    },
  );

  server.registerTool(
    'deliver',
    {
      description: 'Gateway only: post a finished task result into its thread',
      inputSchema: DeliverInput,
    },
    ({ task, dispatch }) => {
      const { channel, threadTs } = dispatch.config;
      const message = store.post({
        channel,
        text: resultText(task).slice(0, 40_000),
        user: BOT_USER,
        bot: true,
        ...(threadTs ? { threadTs } : {}),
      });
      return ok(`Delivered ${message.ts} to #${channel}`, {
        delivered: true,
        channel,
        ts: message.ts,
      });
    },
  );

  server.registerTool(
    'ask_approval',
    {
      description: 'Gateway only: ask the thread about a tool call that waits for approval',
      inputSchema: AskApprovalInput,
    },
    ({ approval, dispatch }) => {
      const { channel, threadTs } = dispatch.config;
      const message = store.post({
        channel,
        text: approvalText(approval),
        user: BOT_USER,
        bot: true,
        ...(threadTs ? { threadTs } : {}),
      });
      return ok(`Asked in #${channel}`, { asked: true, channel, ts: message.ts });
    },
  );

  server.registerTool(
    'on_task_event',
    {
      description: "Gateway only: react in a task's thread when it starts and ends",
      inputSchema: TaskEventInput,
    },
    (input) => {
      const result = reactions.apply(input);
      return ok(
        result.reacted ? `Reacted :${result.reaction}:` : `No reaction: ${result.reason}`,
        result,
      );
    },
  );
}
