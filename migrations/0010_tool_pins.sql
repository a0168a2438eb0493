-- 0010: tool pinning against rug pulls (issue 15; gateway/src/integrations/tool-pinning.ts).
-- Forward-only, like the ones before it.
--
-- One row per (integration, tool): the sha256 of the tool's definition as an operator approved it
-- (or as first seen, by policy toolPinning: first-sight), the definition itself (the diff an
-- operator reviews is computed against it), who approved it and when. A listed tool whose hash
-- differs is hidden from agents until approved. Rows of tools an integration no longer lists
-- are kept (a tool removed and brought back changed is still caught), at most 1000 of them per
-- integration, the oldest pruned first: the table holds at most 2000 rows per integration.
create table tool_pins (
  integration text not null,
  tool text not null,
  hash text not null,
  definition jsonb not null,
  approved_by text not null,
  approved_at timestamptz not null default now(),
  primary key (integration, tool)
);
