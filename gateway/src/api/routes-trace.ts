import { ok, type RouteSpec } from './route-spec.ts';
import { TRACE_SCOPES, TraceAnswerView } from './trace.ts';

/** The trace of one event (issue 17, gateway/src/trace/); routes.ts spreads them into API_ROUTES. */
const [scope, ...alsoScopes] = TRACE_SCOPES;

export const TRACE_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/trace/deliveries/:id',
    scope: scope!,
    alsoScopes,
    summary:
      'The chain of a delivery as a tree with times: its handler result, the tasks it created (at most 200), their tool calls (at most 1,000 each), approvals, requeues and outbox rows with their attempts; trace ids when tracing was on',
    responses: [
      ok(TraceAnswerView),
      { status: 400, description: 'The id is not a uuid' },
      { status: 404, description: 'No such delivery' },
    ],
  },
  {
    method: 'get',
    path: '/trace/tasks/:id',
    scope: scope!,
    alsoScopes,
    summary:
      "The chain of a task, under the delivery that created it when there is one (the delivery's other tasks left out)",
    responses: [
      ok(TraceAnswerView),
      { status: 400, description: 'The id is not a uuid' },
      { status: 404, description: 'No such task' },
    ],
  },
];
