-- Retention covers call history too (calls are content: who called whom, when,
-- for how long): each retention run records how many ended calls it deleted.

alter table parley_internal.retention_runs add column if not exists deleted_calls integer not null default 0;
comment on column parley_internal.retention_runs.deleted_calls is
  'Ended calls (call_sessions, with their participants) the batch deleted for the organization.';
