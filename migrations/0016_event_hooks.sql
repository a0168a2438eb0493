-- 0016: lifecycle hooks (issue 18, manifest `events:`; integrations/event-hooks.ts keeps the
-- rows, events/store.ts fanOut reads them). Forward-only, like 0001–0015.
--
-- One row per hook of an integration that is ready: the hidden tool the gateway calls with a
-- task event, the exact event types it takes (`task:*` expanded when written) and whether it
-- takes the events of every session (all_sessions, only with the policy's `events.all` grant)
-- or only of the sessions it owns (key starting with "<integration>:"). The registry writes
-- them when the integration becomes ready and deletes them when it is refused (disabled in the
-- policy, a capability not granted, …) or removed, so such an integration gets no new rows.
-- Bounded: at most 10 hooks per integration (sdk MAX_EVENT_HOOKS), one row per hook.
create table event_hooks (
  integration text not null,
  tool text not null,
  types text[] not null,
  all_sessions boolean not null default false,
  updated_at timestamptz not null default now(),
  primary key (integration, tool)
);
