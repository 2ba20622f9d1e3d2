-- Erasable audit entries (issue 18): the digests a hash_version 2 entry's
-- hash covers, the one kind of UPDATE the audit log's guard lets through
-- (an erasure, which leaves what the chain covers unchanged), and the
-- erasure itself. Applied before functions/audit.sql, whose
-- audit_entry_hash and audit_log_guard call these. See docs/data-rights.md.

-- The digest of one value of an entry: sha256(salt | path | value as jsonb text), hex.
create or replace function parley_internal.audit_value_digest(salt uuid, path text, value jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select case when value is null or value = 'null'::jsonb then null
              else pg_catalog.encode(pg_catalog.sha256(pg_catalog.convert_to(
                     salt::text || '|' || path || '|' || value::text, 'UTF8')), 'hex') end
$$;
comment on function parley_internal.audit_value_digest(uuid, text, jsonb) is
  'Digest of one audit value (path ip, user_agent, old_values.<key> or new_values.<key>): sha256(salt | path | jsonb text), hex; null for null.';
select parley_internal.restrict_function('parley_internal.audit_value_digest(uuid, text, jsonb)', '{}');

-- old_values / new_values as the chain sees them: every key mapped to its
-- digest (the recorded digest when the value was erased).
create or replace function parley_internal.audit_values_digest(salt uuid, erased jsonb, prefix text, vals jsonb)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select case when vals is null then null
              when pg_catalog.jsonb_typeof(vals) <> 'object' then
                pg_catalog.to_jsonb(parley_internal.audit_value_digest(salt, prefix, vals))
              else coalesce((
                select pg_catalog.jsonb_object_agg(e.key, coalesce(erased ->> (prefix || '.' || e.key),
                         parley_internal.audit_value_digest(salt, prefix || '.' || e.key, e.value)))
                from pg_catalog.jsonb_each(vals) as e), '{}'::jsonb) end
$$;
comment on function parley_internal.audit_values_digest(uuid, jsonb, text, jsonb) is
  'old_values or new_values as a hash_version 2 entry commits to them: each key mapped to the digest of its value (or the recorded digest of an erased value).';
select parley_internal.restrict_function('parley_internal.audit_values_digest(uuid, jsonb, text, jsonb)', '{}');

-- The canonical content of a hash_version 2 entry: audit_entry_hash's list
-- with ip, user_agent, old_values and new_values replaced by digests.
create or replace function parley_internal.audit_entry_content_v2(entry public.audit_log)
returns text
language sql
stable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_array(
    2, entry.id, entry.chain, entry.chain_seq, entry.organization_id, entry.subject_user_id, entry.actor_id,
    entry.actor_role, entry.persona_id,
    coalesce(entry.erased ->> 'ip', parley_internal.audit_value_digest(entry.value_salt, 'ip',
                                                                        pg_catalog.to_jsonb(entry.ip::text))),
    coalesce(entry.erased ->> 'user_agent', parley_internal.audit_value_digest(entry.value_salt, 'user_agent',
                                                                                pg_catalog.to_jsonb(entry.user_agent))),
    pg_catalog.to_char(entry.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    entry.action, entry.table_name, entry.object_id,
    parley_internal.audit_values_digest(entry.value_salt, entry.erased, 'old_values', entry.old_values),
    parley_internal.audit_values_digest(entry.value_salt, entry.erased, 'new_values', entry.new_values))::text
$$;
comment on function parley_internal.audit_entry_content_v2(public.audit_log) is
  'What a hash_version 2 audit entry''s hash covers: the fixed columns and the digests of its erasable values.';
select parley_internal.restrict_function('parley_internal.audit_entry_content_v2(public.audit_log)', '{}');

-- The guard's one exception: an UPDATE that only erases values. Nothing the
-- chain covers may change (same content, same hash), every other column
-- stays, `erased` only grows, and each erased path holds its marker.
create or replace function parley_internal.audit_update_is_erasure(old_entry public.audit_log, new_entry public.audit_log)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
declare
  path text;
  marked boolean;
begin
  if old_entry.hash_version <> 2 or new_entry.hash_version <> 2 or new_entry.erased is null
     or (pg_catalog.to_jsonb(old_entry) - array['ip', 'user_agent', 'old_values', 'new_values', 'erased'])
        is distinct from (pg_catalog.to_jsonb(new_entry) - array['ip', 'user_agent', 'old_values', 'new_values', 'erased'])
     or not (new_entry.erased @> coalesce(old_entry.erased, '{}'::jsonb))
     or parley_internal.audit_entry_content_v2(old_entry) is distinct from parley_internal.audit_entry_content_v2(new_entry)
  then
    return false;
  end if;
  for path in select pg_catalog.jsonb_object_keys(new_entry.erased) loop
    marked := case
      when path = 'ip' then new_entry.ip is null
      when path = 'user_agent' then new_entry.user_agent = 'sha256:' || (new_entry.erased ->> path)
      when path like 'old\_values.%' then
        new_entry.old_values -> pg_catalog.substr(path, 12) = pg_catalog.to_jsonb('sha256:' || (new_entry.erased ->> path))
      when path like 'new\_values.%' then
        new_entry.new_values -> pg_catalog.substr(path, 12) = pg_catalog.to_jsonb('sha256:' || (new_entry.erased ->> path))
      else false end;
    if not coalesce(marked, false) then
      return false;
    end if;
  end loop;
  return true;
end
$$;
comment on function parley_internal.audit_update_is_erasure(public.audit_log, public.audit_log) is
  'Whether an UPDATE of an audit entry only erases values (replaces them by their digests) and leaves everything its hash covers unchanged: the only UPDATE audit_log_guard allows.';
select parley_internal.restrict_function('parley_internal.audit_update_is_erasure(public.audit_log, public.audit_log)', '{}');

-- Erase values of one entry: ip and user_agent when erase_context, and the
-- keys of old_values / new_values named in keys (all keys when keys is
-- null). Returns how many values were erased (0 for hash_version 1 entries,
-- which cannot be erased without breaking the chain).
create or replace function parley_internal.audit_erase_values(entry_id bigint, erase_context boolean, keys text[])
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  entry public.audit_log;
  new_erased jsonb;
  prefix text;
  vals jsonb;
  item record;
  digest text;
  erased_count integer := 0;
begin
  select * into entry from public.audit_log a where a.id = audit_erase_values.entry_id;
  if not found or entry.hash_version <> 2 then
    return 0;
  end if;
  new_erased := coalesce(entry.erased, '{}'::jsonb);
  if erase_context and entry.ip is not null and not new_erased ? 'ip' then
    new_erased := new_erased || pg_catalog.jsonb_build_object('ip',
      parley_internal.audit_value_digest(entry.value_salt, 'ip', pg_catalog.to_jsonb(entry.ip::text)));
    entry.ip := null;
    erased_count := erased_count + 1;
  end if;
  if erase_context and entry.user_agent is not null and not new_erased ? 'user_agent' then
    digest := parley_internal.audit_value_digest(entry.value_salt, 'user_agent', pg_catalog.to_jsonb(entry.user_agent));
    new_erased := new_erased || pg_catalog.jsonb_build_object('user_agent', digest);
    entry.user_agent := 'sha256:' || digest;
    erased_count := erased_count + 1;
  end if;
  foreach prefix in array array['old_values', 'new_values'] loop
    vals := case prefix when 'old_values' then entry.old_values else entry.new_values end;
    if pg_catalog.jsonb_typeof(vals) = 'object' then
      for item in select e.key, e.value from pg_catalog.jsonb_each(vals) as e loop
        continue when item.value = 'null'::jsonb or new_erased ? (prefix || '.' || item.key)
                      or (keys is not null and not item.key = any (keys));
        digest := parley_internal.audit_value_digest(entry.value_salt, prefix || '.' || item.key, item.value);
        new_erased := new_erased || pg_catalog.jsonb_build_object(prefix || '.' || item.key, digest);
        vals := vals || pg_catalog.jsonb_build_object(item.key, 'sha256:' || digest);
        erased_count := erased_count + 1;
      end loop;
      if prefix = 'old_values' then entry.old_values := vals; else entry.new_values := vals; end if;
    end if;
  end loop;
  if erased_count > 0 then
    update public.audit_log a
    set ip = entry.ip, user_agent = entry.user_agent, old_values = entry.old_values, new_values = entry.new_values,
        erased = new_erased
    where a.id = entry.id;
  end if;
  return erased_count;
end
$$;
comment on function parley_internal.audit_erase_values(bigint, boolean, text[]) is
  'Erase personal values of one audit entry (hash_version 2): ip and user_agent if erase_context, and the listed keys of old_values/new_values (all if keys is null) are replaced by "sha256:<digest>" (ip by null) and their digests recorded in erased; the chain still verifies. Returns the number of values erased.';
select parley_internal.restrict_function('parley_internal.audit_erase_values(bigint, boolean, text[])', '{}');
