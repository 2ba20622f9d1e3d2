-- Erasable audit entries (issue 18, data rights). Applied after sql/audit.sql.
--
-- An entry written with hash_version 2 commits, for every value that can
-- hold personal data (ip, user_agent and each key of old_values and
-- new_values), to a digest of the value instead of the value itself:
--   digest = sha256(value_salt || '|' || path || '|' || value as jsonb text)
-- so erasing a value (replacing it by its digest, recorded in `erased`) does
-- not change what the hash chain covers: the chain still verifies, and the
-- value is gone. Entries written before this file (hash_version 1) commit to
-- the raw values and are never rewritten. See docs/data-rights.md and
-- docs/audit.md.

alter table public.audit_log add column if not exists hash_version smallint not null default 1;
alter table public.audit_log add column if not exists value_salt uuid;
alter table public.audit_log add column if not exists erased jsonb;
do $constraints$
begin
  if not exists (select 1 from pg_catalog.pg_constraint where conname = 'audit_log_hash_version_check') then
    alter table public.audit_log add constraint audit_log_hash_version_check check (
      hash_version = 1 and value_salt is null and erased is null
      or hash_version = 2 and value_salt is not null
         and (erased is null or pg_catalog.jsonb_typeof(erased) = 'object'));
  end if;
end
$constraints$;
comment on column public.audit_log.hash_version is '1: the hash covers the raw values (entries older than data rights); 2: it covers per-value digests, so personal values can be erased (replaced by their digests) without breaking the chain.';
comment on column public.audit_log.value_salt is 'hash_version 2: the random salt of this entry''s value digests.';
comment on column public.audit_log.erased is 'Erased values: {"<path>": "<digest hex>"} for ip, user_agent, old_values.<key>, new_values.<key>; the column or key now holds "sha256:<digest>" (ip: null). Null: nothing erased.';

create index if not exists audit_log_actor_id_idx on public.audit_log (actor_id);
