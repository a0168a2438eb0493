import * as z from 'zod';
import { ChannelName, type ChannelStore } from './store.ts';

/**
 * chat's lifecycle hook (manifest `events:`, tool `on_task_event`): the gateway calls it with
 * the start and the end of each task of a `chat:` session (sdk taskEventHookInputSchema), and
 * the message that started the task gets a reaction, as a Slack bot would: 👀 (`eyes`) while
 * it runs, then ✅ `white_check_mark`, ❌ `x` or 🚫 `no_entry_sign`. The thread is the task's
 * dispatch target (channel and threadTs: what on_webhook's trigger set), which the gateway
 * sends for the integration's own sessions only.
 *
 * Delivery is at least once and a retried event can arrive after a later one: a reaction is
 * idempotent, and an event older (by seq) than one already applied to the task is ignored, so a
 * late `task:started` never puts 👀 back after ✅.
 */

export const TaskEventInput = z.object({
  event: z.looseObject({
    type: z.string(),
    seq: z.string().regex(/^\d{1,20}$/),
    taskId: z.string(),
  }),
  session: z.looseObject({ key: z.string() }),
  dispatch: z
    .looseObject({
      type: z.string(),
      config: z.looseObject({ channel: ChannelName, threadTs: z.string().optional() }).optional(),
    })
    .optional(),
});
export type TaskEventInput = z.infer<typeof TaskEventInput>;

const RUNNING = 'eyes';
const ENDED: Record<string, string> = {
  'task:done': 'white_check_mark',
  'task:failed': 'x',
  'task:cancelled': 'no_entry_sign',
};

/** Tasks whose last applied seq is remembered: older ones fall off (a long-lived process). */
const MAX_REMEMBERED_TASKS = 1_000;

export class TaskReactions {
  private readonly lastSeq = new Map<string, bigint>();

  constructor(private readonly store: ChannelStore) {}

  /** What the hook did: the reaction now on the message, or why nothing changed. */
  apply(input: TaskEventInput): { reacted: boolean; reaction?: string; reason?: string } {
    const { event, dispatch } = input;
    const config = dispatch?.type === 'chat' ? dispatch.config : undefined;
    if (!config?.threadTs) return { reacted: false, reason: 'the task has no chat thread' };
    const seq = BigInt(event.seq);
    const last = this.lastSeq.get(event.taskId);
    if (last !== undefined && seq <= last) return { reacted: false, reason: 'an older event' };
    const reaction = event.type === 'task:started' ? RUNNING : ENDED[event.type];
    if (!reaction) return { reacted: false, reason: `not a start or end: ${event.type}` };
    const message = this.store.react(config.channel, config.threadTs, {
      add: reaction,
      remove: reaction === RUNNING ? [] : [RUNNING],
    });
    if (!message) return { reacted: false, reason: 'the thread is no longer kept' };
    this.lastSeq.delete(event.taskId);
    this.lastSeq.set(event.taskId, seq);
    if (this.lastSeq.size > MAX_REMEMBERED_TASKS) {
      this.lastSeq.delete(this.lastSeq.keys().next().value!);
    }
    return { reacted: true, reaction };
  }
}
