import { KV_MAX_KEYS, KV_MAX_TOTAL_BYTES, KV_VALUE_MAX_BYTES } from '../kv/bounds.ts';
import {
  KvDeleteQuery,
  KvEntryAnswer,
  KvListAnswer,
  KvListQuery,
  KvPutBody,
  KvWriteAnswer,
} from './kv.ts';
import { ok, type RouteSpec } from './route-spec.ts';

/** Key-value storage (issue 18, api/kv.ts); routes.ts spreads them into API_ROUTES. */
const refused = {
  status: 403,
  description:
    "An integration's key outside its own namespace, or its integration is not granted storage.kv",
};

export const KV_ROUTES: RouteSpec[] = [
  {
    method: 'get',
    path: '/kv/:integration',
    scope: 'kv:read',
    summary:
      "A namespace's live keys in bytewise order (with prefix), a page at a time: pass `next` as cursor",
    query: KvListQuery,
    responses: [ok(KvListAnswer), refused],
  },
  {
    method: 'get',
    path: '/kv/:integration/:key',
    scope: 'kv:read',
    summary: 'One key: its value, version and expiry',
    responses: [
      ok(KvEntryAnswer),
      refused,
      { status: 404, description: 'No such key (or expired)' },
    ],
  },
  {
    method: 'put',
    path: '/kv/:integration/:key',
    scope: 'kv:write',
    summary: `Write a key (value ≤ ${KV_VALUE_MAX_BYTES} bytes of JSON, optional TTL); with ifVersion only at that version (0: create only); answers the new version`,
    body: KvPutBody,
    responses: [
      ok(KvWriteAnswer),
      refused,
      { status: 409, description: 'kv_version_conflict: error.currentVersion' },
      { status: 413, description: 'The value is over the bound (error.field: value)' },
      {
        status: 507,
        description: `kv_quota_exceeded: the namespace holds ${KV_MAX_KEYS} keys or ${KV_MAX_TOTAL_BYTES} bytes`,
      },
    ],
  },
  {
    method: 'delete',
    path: '/kv/:integration/:key',
    scope: 'kv:write',
    summary: 'Delete a key (with ifVersion only at that version)',
    query: KvDeleteQuery,
    responses: [
      ok(),
      refused,
      { status: 404, description: 'No such key' },
      { status: 409, description: 'kv_version_conflict: error.currentVersion' },
    ],
  },
];
