/**
 * The /api/v1 answers the tasks and sessions pages read (gateway/src/api/schemas.ts TaskView,
 * SessionView, MessageView, TaskTokenView), as plain types: the console's tsconfig checks
 * browser code only.
 */

export type TaskStatus = 'pending' | 'running' | 'complete' | 'failed' | 'cancelled';

export interface TaskView {
  id: string;
  seq: string | null;
  sessionId: string | null;
  messageId: string | null;
  external: boolean;
  status: TaskStatus;
  reason: string | null;
  error: string | null;
  result: string | null;
  prompt: string;
  profile: string | null;
  scope: string[];
  execution: Record<string, unknown>;
  dispatch: Record<string, unknown> | null;
  idempotencyKey: string | null;
  timeoutMs: number | null;
  attempts: number;
  maxAttempts: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  leaseOwner: string | null;
  leaseExpiresAt: string | null;
}

export interface TaskList {
  tasks: TaskView[];
  next: string | null;
}

export interface TaskTokenView {
  jti: string;
  kid: string;
  audience: string;
  scope: string[];
  issuedAt: string;
  expiresAt: string;
  revokedAt: string | null;
}

export interface SessionView {
  id: string;
  key: string;
  dispatch: { type: string; config: Record<string, unknown> } | null;
  profile: string | null;
  metadata: Record<string, unknown>;
  createdAt: string;
  updatedAt: string;
  cursor: string;
}

export interface MessageView {
  id: string;
  sessionId: string;
  role: 'user' | 'agent' | 'system' | 'integration';
  content: string;
  source: Record<string, unknown> | null;
  createdAt: string;
}

export const isEnded = (status: TaskStatus): boolean =>
  status === 'complete' || status === 'failed' || status === 'cancelled';
