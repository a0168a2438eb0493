-- GitHub signs a delivery's body but not its X-GitHub-Delivery id, so one captured request
-- could be stored (and start tasks) again under any new id. Its deliveries are therefore also
-- unique per integration by the SHA-256 of the body (NULL for every other scheme, for schedule
-- jobs and for replays, which the partial index leaves alone). Forward-only, like the ones before it.
alter table webhook_deliveries add column body_sha256 bytea;
create unique index webhook_deliveries_body_once
  on webhook_deliveries (integration, body_sha256) where body_sha256 is not null;
