import * as z from 'zod';

/** Slack channel names: lowercase, digits, `-` and `_`, at most 80 characters. */
export const ChannelName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,79}$/, 'expected a channel name like "general"');
/** Slack truncates message text above 40,000 characters; we refuse instead. */
export const MessageText = z.string().min(1).max(40_000);

/** Messages kept per channel: old ones fall off so a long-running process stays bounded. */
const MAX_MESSAGES_PER_CHANNEL = 1_000;

export type ChatMessage = {
  /** Slack-style timestamp id, `<unix seconds>.<6 digits>`; unique and ordered per process. */
  ts: string;
  channel: string;
  user: string;
  text: string;
  threadTs?: string;
  bot: boolean;
  /** Slack-style reactions (`eyes`, `white_check_mark`, …), each name once, in the order added. */
  reactions?: string[];
};

/** Reactions kept per message: Slack's own limit of distinct reactions is 50. */
const MAX_REACTIONS = 50;

/** An in-memory Slack-like workspace: channels of messages, oldest first. */
export class ChannelStore {
  private readonly channels = new Map<string, ChatMessage[]>();
  private sequence = 0;

  post(message: Omit<ChatMessage, 'ts'>): ChatMessage {
    this.sequence = (this.sequence + 1) % 1_000_000;
    const ts = `${Math.floor(Date.now() / 1000)}.${String(this.sequence).padStart(6, '0')}`;
    return this.insert({ ...message, ts });
  }

  /** Records a message that arrived from outside (a webhook); a redelivery with the same ts is a no-op. */
  record(message: ChatMessage): ChatMessage {
    const existing = this.channels.get(message.channel)?.find((m) => m.ts === message.ts);
    return existing ?? this.insert(message);
  }

  /**
   * Slack's reactions.add / reactions.remove on one message (idempotent: adding a reaction twice
   * or removing one that is not there changes nothing). Undefined when the message is not kept.
   */
  react(
    channel: string,
    ts: string,
    change: { add?: string; remove?: readonly string[] },
  ): ChatMessage | undefined {
    const message = this.channels.get(channel)?.find((m) => m.ts === ts);
    if (!message) return undefined;
    const kept = (message.reactions ?? []).filter((r) => !change.remove?.includes(r));
    if (change.add && !kept.includes(change.add) && kept.length < MAX_REACTIONS) {
      kept.push(change.add);
    }
    message.reactions = kept;
    return message;
  }

  /** The newest `limit` messages of a channel, oldest first. */
  list(channel: string, limit: number): ChatMessage[] {
    return (this.channels.get(channel) ?? []).slice(-limit);
  }

  private insert(message: ChatMessage): ChatMessage {
    const messages = this.channels.get(message.channel) ?? [];
    messages.push(message);
    if (messages.length > MAX_MESSAGES_PER_CHANNEL) messages.shift();
    this.channels.set(message.channel, messages);
    return message;
  }
}
