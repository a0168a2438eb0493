import * as z from 'zod';
import {
  ApprovalAnswer,
  ApprovalListAnswer,
  ApproveBody,
  DenyBody,
  ListApprovalsQuery,
} from './approvals.ts';
import { SecretBody, SecretStatusView } from './profiles.ts';
import { ok, type RouteSpec } from './route-spec.ts';

/** The operator-only routes of issue 15 (routes.ts spreads them into API_ROUTES). */
export const PROFILE_AND_APPROVAL_ROUTES: RouteSpec[] = [
  // Profile secrets (issue 15): model API keys for a profile's agents. Values go in, never out.
  {
    method: 'get',
    path: '/profiles/:name/secrets',
    scope: 'profiles:read',
    summary:
      "A profile's secrets: each declared (or still stored) name, set or not, and when; never a value",
    responses: [
      ok(z.object({ profile: z.string(), secrets: z.array(SecretStatusView) })),
      { status: 404, description: 'The policy defines no such profile' },
    ],
  },
  {
    method: 'put',
    path: '/profiles/:name/secrets/:secret',
    scope: 'profiles:write',
    summary:
      'Set (or replace) a secret the profile declares; stored encrypted, passed only to its agents',
    body: SecretBody,
    responses: [
      ok(
        z.object({
          profile: z.string(),
          name: z.string(),
          set: z.literal(true),
          replaced: z.boolean(),
          updatedAt: z.string(),
        }),
      ),
      { status: 400, description: 'Not declared by the profile, or a value out of bounds' },
    ],
  },
  {
    method: 'delete',
    path: '/profiles/:name/secrets/:secret',
    scope: 'profiles:write',
    summary: "Remove a profile's secret (its tasks then fail at start while it is declared)",
    responses: [ok(z.object({ profile: z.string(), name: z.string(), removed: z.boolean() }))],
  },
  // Approvals (issue 15): calls held by policy `approvals` rules; operator keys only.
  {
    method: 'get',
    path: '/approvals',
    scope: 'approvals:read',
    summary: 'Approval requests, newest first; ?status=&task=&limit=&cursor=',
    query: ListApprovalsQuery,
    responses: [ok(ApprovalListAnswer)],
  },
  {
    method: 'get',
    path: '/approvals/:id',
    scope: 'approvals:read',
    summary: 'One approval request',
    responses: [ok(ApprovalAnswer), { status: 404, description: 'No such request' }],
  },
  ...(['approve', 'deny'] as const).map(
    (verb): RouteSpec => ({
      method: 'post',
      path: `/approvals/:id/${verb}`,
      scope: 'approvals:write',
      summary: `${verb === 'approve' ? 'Approve (reason optional)' : 'Deny (reason required)'} a pending request; the held call learns of it at once`,
      body: verb === 'approve' ? ApproveBody : DenyBody,
      responses: [
        ok(ApprovalAnswer),
        { status: 409, description: 'approval_not_pending: decided, expired, or its task ended' },
      ],
    }),
  ),
];
