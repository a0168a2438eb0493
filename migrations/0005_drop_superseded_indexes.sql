-- 0005: drop three indexes no query uses any more; every insert and status change paid for
-- them. Forward-only, like 0001–0004.
--   webhook_deliveries_claimable (run_at) where pending: superseded by 0004's
--     webhook_deliveries_due (run_at, received_at), same predicate, same leading column;
--   outbox_due (next_attempt_at) where pending: superseded by 0004's outbox_due_order
--     (next_attempt_at, id);
--   tasks_claimable (run_at) where pending: claims go by 0002's tasks_pending_profile
--     (profile, seq); nothing filters pending tasks by run_at alone.
drop index if exists webhook_deliveries_claimable;
drop index if exists outbox_due;
drop index if exists tasks_claimable;
