-- 0013: trace context on the rows that carry work across the queues (issue 17, telemetry/).
-- Forward-only, like 0001–0012.
--
-- A W3C traceparent (`00-<trace id>-<span id>-<flags>`, 55 characters) of the span that queued
-- the row: the webhook request that stored a delivery, the delivery (or API call) that created
-- a task, the task whose end queued a dispatch. The worker that claims the row, on any replica,
-- continues that trace, so one event is one trace. Null when tracing was off; checked so that a
-- row can never carry more than a traceparent's bytes.
alter table webhook_deliveries add column trace_parent text
  check (trace_parent is null or length(trace_parent) = 55);
alter table tasks add column trace_parent text
  check (trace_parent is null or length(trace_parent) = 55);
alter table outbox add column trace_parent text
  check (trace_parent is null or length(trace_parent) = 55);
