-- 0008: RESERVED for another helper of issue 15 (guardrails). This branch (i15-budgets) adds
-- 0009 and migrations are numbered without gaps, so it carries this no-op to boot; DELETE THIS
-- FILE when merging: the real 0008 takes its place.
select 1;
