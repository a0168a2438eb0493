import { AsyncLocalStorage } from 'node:async_hooks';
import type { View } from './view.ts';

/**
 * The request being served, for the parts of the SDK that call back into us without passing it
 * along: createMcpHandler's server factory and its subscriptions/listen router (which subscribes
 * to our event bus synchronously while serving the listen request, so the subscriber is known).
 */
export interface RequestScope {
  view: View;
  /** The parsed JSON-RPC body (undefined for GET/DELETE). */
  body: unknown;
}

export const requestScope = new AsyncLocalStorage<RequestScope>();
