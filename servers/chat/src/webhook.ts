import * as z from 'zod';
import type { ChannelStore } from './store.ts';

/** What the gateway sends on_webhook once the Slack signature checked out. */
export const WebhookInput = z.object({
  endpoint: z.string(),
  headers: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
  /** The raw request body as text (what was signed), or the gateway's parsed JSON. */
  body: z.union([z.string(), z.record(z.string(), z.unknown())]),
  deliveryId: z.string().optional(),
});
export type WebhookInput = z.infer<typeof WebhookInput>;

/** Text beyond 4,000 characters is clipped in the trigger message (the agent can list_messages). */
const MAX_MESSAGE_CHARS = 4_000;

export type Trigger = {
  session: {
    key: string;
    dispatch: { type: 'chat'; config: { channel: string; threadTs: string } };
  };
  message: string;
  run: boolean;
  execution: { preamble: string; tools: string[] };
};
export type HandlerResult = {
  triggers: Trigger[];
  response?: { status: number; body: Record<string, unknown> };
};

const UrlVerification = z.object({ type: z.literal('url_verification'), challenge: z.string() });

const MessageEvent = z.object({
  type: z.literal('event_callback'),
  event: z.object({
    type: z.literal('message'),
    channel: z.string(),
    user: z.string().optional(),
    text: z.string().default(''),
    ts: z.string(),
    thread_ts: z.string().optional(),
    bot_id: z.string().optional(),
    subtype: z.string().optional(),
  }),
});

const ACK = { status: 200, body: { ok: true } };

/**
 * Slack Events API → triggers. `url_verification` is answered through `response` (the webhook
 * runs in sync mode, so the gateway returns it to Slack). A plain user `message` becomes one
 * trigger in the channel's session, answered in the message's thread; bot messages and subtypes (edits, joins, our own replies) are ignored so a
 * delivered answer never triggers another task.
 */
export function handleWebhook(input: WebhookInput, store: ChannelStore): HandlerResult {
  const payload: unknown = typeof input.body === 'string' ? JSON.parse(input.body) : input.body;

  const verification = UrlVerification.safeParse(payload);
  if (verification.success) {
    return {
      triggers: [],
      response: { status: 200, body: { challenge: verification.data.challenge } },
    };
  }

  const parsed = MessageEvent.safeParse(payload);
  if (!parsed.success) return { triggers: [], response: ACK };
  const { event } = parsed.data;
  if (event.bot_id !== undefined || event.subtype !== undefined || event.user === undefined) {
    return { triggers: [], response: ACK };
  }

  store.record({
    ts: event.ts,
    channel: event.channel,
    user: event.user,
    text: event.text,
    bot: false,
    ...(event.thread_ts ? { threadTs: event.thread_ts } : {}),
  });
  const threadTs = event.thread_ts ?? event.ts;
  const text =
    event.text.length > MAX_MESSAGE_CHARS
      ? `${event.text.slice(0, MAX_MESSAGE_CHARS)}…`
      : event.text;
  return {
    triggers: [
      {
        session: {
          // The channel's session (its history is the conversation); the reply goes to the thread.
          key: `chat:${event.channel}`,
          dispatch: { type: 'chat', config: { channel: event.channel, threadTs } },
        },
        message: `<@${event.user}> in #${event.channel}: ${text}`,
        run: true,
        execution: {
          preamble: `Answer the message in #${event.channel}; your result is posted in its thread.`,
          tools: ['chat:list_messages', 'chat:post_message'],
        },
      },
    ],
    response: ACK,
  };
}
