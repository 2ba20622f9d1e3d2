-- Legacy imports (issue 16): seed 000 (Astegni, role-keyed chat) and seed 001
-- (PEA, group-based support with personas) into Parley. Tables in
-- sql/imports.sql; the supported input schemas and the DBA's guide in
-- docs/imports.md; the thin CLI in python/parley/imports/.
--
-- Every function here is SECURITY INVOKER and executable by nobody but the
-- owner (no API role): the DBA runs them as the database owner.
--
-- Steps per source, each idempotent (maps and ON CONFLICT DO NOTHING):
--   begin_run          the run row; the source's one target organization
--   <source>_prepare   users (matched by email, else created), memberships,
--                      personas, conversations (merged), rosters, inbox entries
--   <source>_messages  one batch of legacy messages (and calls) in legacy
--                      (time, table, id) order, ids taken in that order,
--                      checkpoint committed with the batch; 0 when done
--   <source>_finish    reactions, read watermarks, archive, blocks, privacy,
--                      one summary audit entry, the run closed
--   verify(source)     counts per legacy table (legacy = imported +
--                      exceptions) and body checksums per conversation
--
-- Bulk mode (the default): inserts of conversations, rosters, messages,
-- reactions and watermarks run with session_replication_role = replica for
-- the statement's transaction only, so the per-row realtime triggers (one
-- realtime.messages row per message and per direct member) and the per-row
-- audit triggers do not fire; foreign keys are guaranteed by the maps the
-- rows are joined through. One audit entry per run summarizes what was
-- imported (docs/imports.md, "Audit and realtime").

-- Small helpers ---------------------------------------------------------------

create or replace function parley_import.legacy_body(content text, is_deleted boolean)
returns text
language sql
immutable
set search_path = ''
as $$
  -- Deleted legacy messages become tombstones (no body); a missing body is ''.
  select case when coalesce(legacy_body.is_deleted, false) then null else coalesce(legacy_body.content, '') end
$$;
comment on function parley_import.legacy_body(text, boolean) is
  'The Parley body of a legacy message: null for a deleted one (tombstone), else the content verbatim ('''' when missing).';
revoke all on function parley_import.legacy_body(text, boolean) from public;

create or replace function parley_import.audience_rank(audience text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case audience_rank.audience
    when 'everyone' then 0 when 'shared_organization' then 1 when 'connections' then 2 when 'nobody' then 3 end
$$;
comment on function parley_import.audience_rank(text) is
  'How restrictive a contact audience is: everyone 0, shared_organization 1, connections 2, nobody 3.';
revoke all on function parley_import.audience_rank(text) from public;

create or replace function parley_import.audience_of(audience_rank integer)
returns public.contact_audience
language sql
immutable
set search_path = ''
as $$
  select (array['everyone', 'shared_organization', 'connections', 'nobody'])[audience_of.audience_rank + 1]::public.contact_audience
$$;
comment on function parley_import.audience_of(integer) is 'The contact audience of a rank (inverse of audience_rank).';
revoke all on function parley_import.audience_of(integer) from public;

create or replace function parley_import.set_bulk(bulk boolean)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- Transaction-local: only the importing session skips triggers, never live traffic.
  perform pg_catalog.set_config('session_replication_role', case when set_bulk.bulk then 'replica' else 'origin' end,
                                true);
end
$$;
comment on function parley_import.set_bulk(boolean) is
  'Bulk mode on (session_replication_role = replica, this transaction only: no per-row realtime or audit triggers) or off.';
revoke all on function parley_import.set_bulk(boolean) from public;

create or replace function parley_import.begin_run(
  source text, organization_id uuid, dry_run boolean, batch_size integer, bulk boolean
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  target uuid;
  run_id bigint;
begin
  if begin_run.source not in ('astegni', 'pea-support') then
    raise exception 'unknown import source %', begin_run.source using errcode = '22023';
  end if;
  if not exists (select 1 from public.organizations o where o.id = begin_run.organization_id) then
    raise exception 'organization % does not exist', begin_run.organization_id using errcode = '22023',
      hint = 'Create the organization first (its owner is an existing Parley user), then pass its id.';
  end if;
  insert into parley_import.targets (source, organization_id) values (begin_run.source, begin_run.organization_id)
  on conflict on constraint targets_pkey do nothing;
  select t.organization_id into strict target from parley_import.targets t where t.source = begin_run.source;
  if target <> begin_run.organization_id then
    raise exception 'source % was imported into organization %, not %', begin_run.source, target,
      begin_run.organization_id using errcode = '22023',
      hint = 'A source has one target organization; re-runs must name the same one.';
  end if;
  -- A run that never finished (killed, terminated) is over: this one resumes its work.
  update parley_import.runs r set status = 'interrupted', finished_at = pg_catalog.clock_timestamp()
  where r.source = begin_run.source and r.status = 'running';
  insert into parley_import.runs (source, organization_id, dry_run, batch_size, bulk)
  values (begin_run.source, begin_run.organization_id, begin_run.dry_run, begin_run.batch_size, begin_run.bulk)
  returning id into run_id;
  return run_id;
end
$$;
comment on function parley_import.begin_run(text, uuid, boolean, integer, boolean) is
  'Start an import run of a source into its one target organization (refused if a previous run used another); returns the run id.';
revoke all on function parley_import.begin_run(text, uuid, boolean, integer, boolean) from public;

-- Users: pg_temp.import_legacy_users(legacy_id, email, display_name, org_role), filled by the caller.
create or replace function parley_import.import_users(source text, run_id bigint, organization_id uuid)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  created bigint;
  mapped bigint;
begin
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select import_users.source, 'users', u.legacy_id::text, 'invalid_email',
         pg_catalog.jsonb_build_object('email', u.email), import_users.run_id
  from pg_temp.import_legacy_users u
  where u.email is null or pg_catalog.btrim(u.email) !~ '^[^@[:space:]]+@[^@[:space:]]+$'
  on conflict on constraint exceptions_pkey do nothing;

  -- Accounts for emails Parley does not know yet (no password: users sign in by magic link or reset).
  with wanted as (
    select distinct on (pg_catalog.lower(pg_catalog.btrim(u.email)))
      pg_catalog.lower(pg_catalog.btrim(u.email)) as email, u.display_name
    from pg_temp.import_legacy_users u
    where pg_catalog.btrim(u.email) ~ '^[^@[:space:]]+@[^@[:space:]]+$'
      and not exists (select 1 from parley_import.user_map m
                      where m.source = import_users.source and m.legacy_id = u.legacy_id)
    order by pg_catalog.lower(pg_catalog.btrim(u.email)), u.legacy_id
  )
  insert into auth.users (id, aud, role, email, raw_app_meta_data, raw_user_meta_data)
  select pg_catalog.gen_random_uuid(), 'authenticated', 'authenticated', w.email,
         pg_catalog.jsonb_build_object('provider', 'email', 'imported_from', import_users.source),
         pg_catalog.jsonb_build_object('display_name', coalesce(w.display_name, ''))
  from wanted w
  where not exists (select 1 from auth.users a where pg_catalog.lower(a.email) = w.email);
  get diagnostics created = row_count;

  insert into parley_import.user_map (source, legacy_id, user_id, created_account)
  select import_users.source, u.legacy_id, a.id,
         coalesce(a.raw_app_meta_data ->> 'imported_from' = import_users.source, false)
  from pg_temp.import_legacy_users u
  cross join lateral (
    select a.id, a.raw_app_meta_data from auth.users a
    where pg_catalog.lower(a.email) = pg_catalog.lower(pg_catalog.btrim(u.email))
    order by a.created_at, a.id limit 1) a
  where pg_catalog.btrim(u.email) ~ '^[^@[:space:]]+@[^@[:space:]]+$'
  on conflict on constraint user_map_pkey do nothing;
  get diagnostics mapped = row_count;

  -- Organization membership (audited per row: memberships are few and worth their entry).
  insert into public.organization_members (organization_id, user_id, role)
  select distinct on (m.user_id) import_users.organization_id, m.user_id, u.org_role
  from pg_temp.import_legacy_users u
  join parley_import.user_map m on m.source = import_users.source and m.legacy_id = u.legacy_id
  order by m.user_id, case u.org_role when 'admin' then 0 else 1 end
  on conflict on constraint organization_members_pkey do nothing;

  return pg_catalog.jsonb_build_object('accounts_created', created, 'users_mapped', mapped);
end
$$;
comment on function parley_import.import_users(text, bigint, uuid) is
  'Map legacy users (pg_temp.import_legacy_users) to auth.users by email, creating missing accounts, and make them organization members.';
revoke all on function parley_import.import_users(text, bigint, uuid) from public;

create or replace function parley_import.finish_run(run_id bigint, summary jsonb)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  run parley_import.runs;
begin
  perform parley_import.set_bulk(false);
  update parley_import.runs r set finished_at = pg_catalog.clock_timestamp(), status = 'finished',
                                  summary = r.summary || finish_run.summary
  where r.id = finish_run.run_id returning * into strict run;
  -- One audit entry for the whole run instead of one per imported row.
  perform parley_internal.audit_append(run.organization_id, null, null,
    'import.' || pg_catalog.replace(run.source, '-', '_'), 'parley_import.runs', run.id::text, null,
    pg_catalog.jsonb_build_object('source', run.source, 'bulk', run.bulk, 'summary', run.summary));
  return run.summary;
end
$$;
comment on function parley_import.finish_run(bigint, jsonb) is
  'Close a run: record its summary and append one import.<source> audit entry for the organization.';
revoke all on function parley_import.finish_run(bigint, jsonb) from public;

create or replace function parley_import.note_step(run_id bigint, step text, figures jsonb)
returns jsonb
language sql
volatile
set search_path = ''
as $$
  update parley_import.runs r set summary = r.summary || pg_catalog.jsonb_build_object(note_step.step, note_step.figures)
  where r.id = note_step.run_id
  returning note_step.figures
$$;
comment on function parley_import.note_step(bigint, text, jsonb) is 'Record a step''s figures in the run''s summary.';
revoke all on function parley_import.note_step(bigint, text, jsonb) from public;

-- Astegni (seed 000) ----------------------------------------------------------

create or replace function parley_import.astegni_prepare(run_id bigint)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  org uuid;
  bulk boolean;
  users jsonb;
  figures jsonb;
  conversations_created bigint;
  members_added bigint;
begin
  select r.organization_id, r.bulk into strict org, bulk from parley_import.runs r where r.id = astegni_prepare.run_id;

  drop table if exists pg_temp.import_legacy_users;
  create temp table import_legacy_users on commit drop as
  select u.id as legacy_id, u.email,
         nullif(pg_catalog.btrim(coalesce(u.first_name, '') || ' ' || coalesce(u.last_name, '')), '') as display_name,
         'member'::text as org_role
  from legacy_astegni.users u;
  users := parley_import.import_users('astegni', astegni_prepare.run_id, org);

  -- Role profiles -> the one identity of their user.
  insert into parley_import.profile_map (source, profile_id, profile_type, user_id)
  select 'astegni', p.profile_id, p.profile_type, m.user_id
  from legacy_astegni.profiles p
  join parley_import.user_map m on m.source = 'astegni' and m.legacy_id = p.user_id
  on conflict on constraint profile_map_pkey do nothing;
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'profiles', p.profile_id || ':' || p.profile_type,
         case when u.id is null then 'unknown_user' else 'user_not_imported' end,
         pg_catalog.jsonb_build_object('user_id', p.user_id), astegni_prepare.run_id
  from legacy_astegni.profiles p
  left join legacy_astegni.users u on u.id = p.user_id
  where not exists (select 1 from parley_import.profile_map pm where pm.source = 'astegni'
                    and pm.profile_id = p.profile_id and pm.profile_type = p.profile_type)
  on conflict on constraint exceptions_pkey do nothing;
  -- The roles become attributes of the identity (profiles.app_roles). In bulk mode without the
  -- validation trigger: app_roles is not validated there, and the trigger's time-zone lookup
  -- (pg_timezone_names, ~20 ms a row) would dominate the step.
  perform parley_import.set_bulk(bulk);
  update public.profiles pr set app_roles = merged.roles
  from (
    select pm.user_id, array(select distinct r from pg_catalog.unnest(p.app_roles || pg_catalog.array_agg(pm.profile_type)) r
                             order by r) as roles
    from parley_import.profile_map pm join public.profiles p on p.id = pm.user_id
    where pm.source = 'astegni'
    group by pm.user_id, p.app_roles
  ) merged
  where pr.id = merged.user_id and pr.app_roles is distinct from merged.roles;
  perform parley_import.set_bulk(false);

  -- Participants with the user behind their profile.
  drop table if exists pg_temp.import_participants;
  create temp table import_participants on commit drop as
  select p.id, p.conversation_id, p.role, p.is_muted, p.is_archived, p.joined_at, pm.user_id,
         (c.id is not null) as conversation_exists
  from legacy_astegni.conversation_participants p
  left join legacy_astegni.conversations c on c.id = p.conversation_id
  left join parley_import.profile_map pm
    on pm.source = 'astegni' and pm.profile_id = p.profile_id and pm.profile_type = p.profile_type;

  -- Conversations: their distinct users decide what they become.
  drop table if exists pg_temp.import_conversations;
  create temp table import_conversations on commit drop as
  select c.id, c.type, c.name, c.avatar_url, c.created_at, creator.user_id as creator_user,
         coalesce(pp.users, '{}') as users, coalesce(pp.rows, 0) as participant_rows, coalesce(pp.unknown, 0) as unknown,
         null::text as direct_key, null::text as reason, null::uuid as owner_user
  from legacy_astegni.conversations c
  left join parley_import.profile_map creator on creator.source = 'astegni'
    and creator.profile_id = c.created_by_profile_id and creator.profile_type = c.created_by_profile_type
  left join lateral (
    select pg_catalog.array_agg(distinct p.user_id) filter (where p.user_id is not null) as users,
           pg_catalog.count(*) as rows, pg_catalog.count(*) filter (where p.user_id is null) as unknown
    from pg_temp.import_participants p where p.conversation_id = c.id) pp on true;
  update pg_temp.import_conversations c set reason = case
      when pg_catalog.cardinality(c.users) = 0 then 'no_participants'
      when c.type = 'direct' and c.unknown > 0 then 'unknown_participant'
      when c.type = 'direct' and pg_catalog.cardinality(c.users) = 1 and c.participant_rows >= 2 then 'self_conversation'
      when c.type = 'direct' and pg_catalog.cardinality(c.users) = 1 then 'too_few_participants'
      when c.type = 'direct' and pg_catalog.cardinality(c.users) > 2 then 'direct_with_more_than_two_users'
    end,
    direct_key = case when c.type = 'direct' and pg_catalog.cardinality(c.users) = 2 then
      'users:' || (select pg_catalog.min(u::text) from pg_catalog.unnest(c.users) u) || ':'
               || (select pg_catalog.max(u::text) from pg_catalog.unnest(c.users) u) end,
    owner_user = case when c.type = 'group' then coalesce(
      case when c.creator_user = any (c.users) then c.creator_user end,
      (select p.user_id from pg_temp.import_participants p
       where p.conversation_id = c.id and p.user_id is not null
       order by (p.role = 'admin') desc, p.joined_at, p.id limit 1)) end;
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'conversations', c.id::text, c.reason,
         pg_catalog.jsonb_build_object('type', c.type, 'users', pg_catalog.cardinality(c.users),
                                       'participants', c.participant_rows), astegni_prepare.run_id
  from pg_temp.import_conversations c where c.reason is not null
  on conflict on constraint exceptions_pkey do nothing;

  perform parley_import.set_bulk(bulk);
  -- Direct conversations: one per user pair, whatever profiles they used (merge rule 1).
  insert into public.conversations (organization_id, kind, direct_key, created_by, created_at)
  select distinct on (c.direct_key) org, 'direct', c.direct_key, c.creator_user, c.created_at
  from pg_temp.import_conversations c
  where c.direct_key is not null and c.reason is null
  order by c.direct_key, c.created_at, c.id
  on conflict (organization_id, direct_key) where direct_key is not null do nothing;
  get diagnostics conversations_created = row_count;
  insert into parley_import.conversation_map (source, legacy_key, conversation_id)
  select 'astegni', c.id::text, pc.id
  from pg_temp.import_conversations c
  join public.conversations pc on pc.organization_id = org and pc.direct_key = c.direct_key
  where c.reason is null and c.direct_key is not null
  on conflict on constraint conversation_map_pkey do nothing;
  -- Groups: one each (the map is written first, so a re-run finds the same id).
  insert into parley_import.conversation_map (source, legacy_key, conversation_id)
  select 'astegni', c.id::text, pg_catalog.gen_random_uuid()
  from pg_temp.import_conversations c where c.type = 'group' and c.reason is null
  on conflict on constraint conversation_map_pkey do nothing;
  insert into public.conversations (id, organization_id, kind, title, avatar_url, created_by, created_at)
  select m.conversation_id, org, 'group',
         pg_catalog.left(pg_catalog.btrim(coalesce(nullif(pg_catalog.btrim(c.name), ''), 'Group ' || c.id)), 120),
         case when c.avatar_url ~ '^https?://' then c.avatar_url end, c.creator_user, c.created_at
  from pg_temp.import_conversations c
  join parley_import.conversation_map m on m.source = 'astegni' and m.legacy_key = c.id::text
  where c.type = 'group' and c.reason is null
    and not exists (select 1 from public.conversations x where x.id = m.conversation_id);

  -- Rosters: one row per user, however many of their profiles took part.
  insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id, added_by, joined_at)
  select distinct on (m.conversation_id, p.user_id) m.conversation_id, p.user_id,
         case when c.type = 'group' and p.user_id = c.owner_user then 'owner'
              when c.type = 'group' and p.role = 'admin' then 'admin' else 'member' end,
         0, null, p.joined_at
  from pg_temp.import_participants p
  join pg_temp.import_conversations c on c.id = p.conversation_id and c.reason is null
  join parley_import.conversation_map m on m.source = 'astegni' and m.legacy_key = p.conversation_id::text
  where p.user_id is not null
  order by m.conversation_id, p.user_id,
           case when c.type = 'group' and p.user_id = c.owner_user then 0 when p.role = 'admin' then 1 else 2 end,
           p.joined_at
  on conflict on constraint conversation_members_pkey do nothing;
  get diagnostics members_added = row_count;
  -- Inbox entries: joined "before the first message" (tick 0); watermarks come in the finish step.
  -- Muted only if every merged participant row was muted (never silence what one profile still heard).
  insert into public.inbox_entries (user_id, conversation_id, last_delivered_message_id, last_read_message_id,
                                    joined_at_message_id, muted_until)
  select p.user_id, m.conversation_id, 0, 0, 0,
         case when pg_catalog.bool_and(p.is_muted) then 'infinity'::timestamptz end
  from pg_temp.import_participants p
  join pg_temp.import_conversations c on c.id = p.conversation_id and c.reason is null
  join parley_import.conversation_map m on m.source = 'astegni' and m.legacy_key = p.conversation_id::text
  where p.user_id is not null
  group by p.user_id, m.conversation_id
  on conflict on constraint inbox_entries_pkey do nothing;
  perform parley_import.set_bulk(false);

  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'conversation_participants', p.id::text,
         case when not p.conversation_exists then 'orphaned'
              when p.user_id is null then 'unknown_user'
              else 'conversation_not_imported' end,
         pg_catalog.jsonb_build_object('conversation_id', p.conversation_id), astegni_prepare.run_id
  from pg_temp.import_participants p
  left join pg_temp.import_conversations c on c.id = p.conversation_id
  where not p.conversation_exists or p.user_id is null or c.reason is not null
  on conflict on constraint exceptions_pkey do nothing;

  -- Fresh maps have no statistics; the batches and the finish step join through them.
  analyze parley_import.user_map, parley_import.profile_map, parley_import.conversation_map;
  figures := users || pg_catalog.jsonb_build_object(
    'conversations', (select pg_catalog.count(distinct m.conversation_id) from parley_import.conversation_map m
                      where m.source = 'astegni'),
    'members_added', members_added);
  return parley_import.note_step(astegni_prepare.run_id, 'prepare', figures);
end
$$;
comment on function parley_import.astegni_prepare(bigint) is
  'Astegni: users by email, role profiles to one identity, conversations (direct ones merged per user pair), rosters and inbox entries.';
revoke all on function parley_import.astegni_prepare(bigint) from public;

create or replace function parley_import.astegni_messages(run_id bigint, batch_size integer)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  org uuid;
  bulk boolean;
  max_length integer;
  after_at timestamptz := '-infinity';
  after_rank smallint := 0;
  after_id bigint := 0;
  bound_messages bigint;
  bound_calls bigint;
  consumed integer;
  last record;
begin
  select r.organization_id, r.bulk into strict org, bulk from parley_import.runs r where r.id = astegni_messages.run_id;
  select s.max_message_length into max_length from public.organization_settings s where s.organization_id = org;
  select c.last_at, c.last_rank, c.last_id into after_at, after_rank, after_id
  from parley_import.checkpoints c where c.source = 'astegni' for update;
  if not found then
    after_at := '-infinity'; after_rank := 0; after_id := 0;
  end if;
  -- (time, table rank, id) > checkpoint, written per table as an index-friendly (time, id) comparison.
  bound_messages := case when after_rank < 1 then -9223372036854775808 when after_rank = 1 then after_id
                         else 9223372036854775807 end;
  bound_calls := case when after_rank < 2 then -9223372036854775808 when after_rank = 2 then after_id
                      else 9223372036854775807 end;

  drop table if exists pg_temp.import_batch;
  create temp table import_batch on commit drop as
  select s.rank, s.id, s.at from (
    (select 1::smallint as rank, m.id, m.created_at as at from legacy_astegni.chat_messages m
     where (m.created_at, m.id) > (after_at, bound_messages) order by m.created_at, m.id limit astegni_messages.batch_size)
    union all
    (select 2::smallint, c.id, c.started_at from legacy_astegni.call_logs c
     where (c.started_at, c.id) > (after_at, bound_calls) order by c.started_at, c.id limit astegni_messages.batch_size)
  ) s order by s.at, s.rank, s.id limit astegni_messages.batch_size;
  select pg_catalog.count(*) into consumed from pg_temp.import_batch;
  if consumed = 0 then
    return 0;
  end if;
  analyze pg_temp.import_batch;

  drop table if exists pg_temp.import_rows;
  create temp table import_rows on commit drop as
  select b.rank, b.id, b.at,
         case b.rank when 1 then 'chat_messages' else 'call_logs' end as legacy_table,
         coalesce(m.conversation_id, c.conversation_id) as legacy_conversation_id,
         cm.conversation_id,
         case when m.message_type = 'system' then 'system' else 'user' end as sender_kind,
         case when m.message_type = 'system' then null else pm.user_id end as sender_id,
         case when b.rank = 2 then 'call' else m.message_type end as kind,
         case when b.rank = 2 then '' else parley_import.legacy_body(m.content, m.is_deleted) end as body,
         case
           when b.rank = 2 then pg_catalog.jsonb_build_object('call', pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object(
             'media', c.call_type, 'status', c.status,
             'end_reason', case c.status when 'ended' then 'completed' else c.status end,
             'started_at', c.started_at, 'answered_at', c.answered_at, 'ended_at', c.ended_at,
             'duration_seconds', c.duration_seconds, 'legacy_call_id', c.id)))
           when m.is_deleted then '{}'::jsonb
           when m.media_url is not null then pg_catalog.jsonb_build_object('attachments', pg_catalog.jsonb_build_array(
             case when pg_catalog.jsonb_typeof(m.media_metadata) = 'object' then m.media_metadata else '{}'::jsonb end
             || pg_catalog.jsonb_build_object('url', m.media_url)))
           else '{}'::jsonb end as metadata,
         m.reply_to_id,
         case when m.is_edited and not m.is_deleted then coalesce(m.updated_at, m.created_at) end as edited_at,
         case when m.is_deleted then coalesce(m.updated_at, m.created_at) end as deleted_at,
         case
           when mm.message_id is not null then 'done'
           when lc.id is null then 'orphaned'
           when cm.conversation_id is null then 'conversation_not_imported'
           when pm.user_id is null then 'unknown_user'
           when b.rank = 1 and not m.is_deleted and pg_catalog.length(m.content) > max_length then 'body_too_long'
           when b.rank = 1 and not m.is_deleted and nullif(pg_catalog.btrim(m.content), '') is null
                and (m.media_url is null or m.message_type = 'system') then 'empty_body'
         end as reason,
         pg_catalog.length(m.content) as body_length
  from pg_temp.import_batch b
  left join legacy_astegni.chat_messages m on b.rank = 1 and m.id = b.id
  left join legacy_astegni.call_logs c on b.rank = 2 and c.id = b.id
  left join legacy_astegni.conversations lc on lc.id = coalesce(m.conversation_id, c.conversation_id)
  left join parley_import.conversation_map cm on cm.source = 'astegni' and cm.legacy_key = lc.id::text
  left join parley_import.profile_map pm on pm.source = 'astegni'
    and pm.profile_id = coalesce(m.sender_profile_id, c.caller_profile_id)
    and pm.profile_type = coalesce(m.sender_profile_type, c.caller_profile_type)
  left join parley_import.message_map mm on mm.source = 'astegni'
    and mm.legacy_table = case b.rank when 1 then 'chat_messages' else 'call_logs' end and mm.legacy_id = b.id;

  -- Ids in legacy order: the ordered subquery feeds nextval row by row (checked below).
  drop table if exists pg_temp.import_new;
  create temp table import_new on commit drop as
  select r.*, pg_catalog.nextval('public.messages_id_seq'::pg_catalog.regclass) as message_id
  from (select * from pg_temp.import_rows where reason is null order by at, rank, id offset 0) r;
  if exists (select 1 from (select n.message_id, pg_catalog.lag(n.message_id) over (order by n.at, n.rank, n.id) as previous
                            from pg_temp.import_new n) s where s.message_id < s.previous) then
    raise exception 'import: message ids would not follow legacy order' using errcode = 'XX000';
  end if;
  create index on pg_temp.import_new (id);
  analyze pg_temp.import_new;

  perform parley_import.set_bulk(bulk);
  insert into public.messages (id, conversation_id, sender_kind, sender_id, kind, body, metadata,
                               reply_to_message_id, created_at, edited_at, deleted_at)
  overriding system value
  select n.message_id, n.conversation_id, n.sender_kind, n.sender_id, n.kind, n.body, n.metadata,
         case when n.reply_to_id is not null then (select t.id from (
            select mm.message_id as id, x.conversation_id from parley_import.message_map mm
            join public.messages x on x.id = mm.message_id
            where mm.source = 'astegni' and mm.legacy_table = 'chat_messages' and mm.legacy_id = n.reply_to_id
            union all
            select o.message_id, o.conversation_id from pg_temp.import_new o
            where o.id = n.reply_to_id and o.rank = 1) t
          where t.conversation_id = n.conversation_id and t.id < n.message_id limit 1) end,
         n.at, n.edited_at, n.deleted_at
  from pg_temp.import_new n
  order by n.message_id;
  insert into parley_import.message_map (source, legacy_table, legacy_id, message_id)
  select 'astegni', n.legacy_table, n.id, n.message_id from pg_temp.import_new n;
  perform parley_import.set_bulk(false);

  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', r.legacy_table, r.id::text, r.reason,
         pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('conversation_id', r.legacy_conversation_id,
           'at', r.at, 'length', case when r.reason = 'body_too_long' then r.body_length end,
           'limit', case when r.reason = 'body_too_long' then max_length end)),
         astegni_messages.run_id
  from pg_temp.import_rows r where r.reason is not null and r.reason <> 'done'
  on conflict on constraint exceptions_pkey do nothing;

  select b.at, b.rank, b.id into last from pg_temp.import_batch b order by b.at desc, b.rank desc, b.id desc limit 1;
  insert into parley_import.checkpoints as c (source, last_at, last_rank, last_id, rows_done)
  values ('astegni', last.at, last.rank, last.id, consumed)
  on conflict on constraint checkpoints_pkey do update
    set last_at = excluded.last_at, last_rank = excluded.last_rank, last_id = excluded.last_id,
        rows_done = c.rows_done + excluded.rows_done, updated_at = pg_catalog.now();
  return consumed;
end
$$;
comment on function parley_import.astegni_messages(bigint, integer) is
  'Astegni: import the next batch of legacy messages and calls (call-kind messages) in legacy time order, ids in that order; checkpoint with the batch. Returns rows consumed (0: done).';
revoke all on function parley_import.astegni_messages(bigint, integer) from public;

create or replace function parley_import.astegni_finish(run_id bigint)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  bulk boolean;
  reactions bigint;
  watermarks bigint;
  archived bigint;
  blocks bigint;
  privacy bigint;
  figures jsonb;
begin
  select r.bulk into strict bulk from parley_import.runs r where r.id = astegni_finish.run_id;
  -- Statistics for the set-based finish (the batches just loaded these tables).
  analyze parley_import.message_map, public.messages, public.conversation_members, public.inbox_entries;

  -- Reactions: one per user per emoji, whichever profiles reacted.
  drop table if exists pg_temp.import_reactions;
  create temp table import_reactions on commit drop as
  select r.id, mm.message_id, pm.user_id, r.reaction, r.created_at,
         case
           when mm.message_id is null and not exists (select 1 from legacy_astegni.chat_messages lm where lm.id = r.message_id)
             then 'orphaned'
           when mm.message_id is null then 'message_not_imported'
           when pm.user_id is null then 'unknown_user'
           when msg.deleted_at is not null then 'message_deleted'
           when not (pg_catalog.length(r.reaction) between 1 and 32 and r.reaction !~ '[[:space:][:cntrl:]]')
             then 'invalid_emoji'
         end as reason
  from legacy_astegni.message_reactions r
  left join parley_import.message_map mm
    on mm.source = 'astegni' and mm.legacy_table = 'chat_messages' and mm.legacy_id = r.message_id
  left join public.messages msg on msg.id = mm.message_id
  left join parley_import.profile_map pm
    on pm.source = 'astegni' and pm.profile_id = r.profile_id and pm.profile_type = r.profile_type;
  perform parley_import.set_bulk(bulk);
  insert into public.message_reactions (message_id, emoji, user_id, created_at)
  select distinct on (r.message_id, r.reaction, r.user_id) r.message_id, r.reaction, r.user_id, r.created_at
  from pg_temp.import_reactions r where r.reason is null
  order by r.message_id, r.reaction, r.user_id, r.created_at
  on conflict on constraint message_reactions_key do nothing;
  get diagnostics reactions = row_count;
  perform parley_import.set_bulk(false);
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'message_reactions', r.id::text, r.reason,
         pg_catalog.jsonb_build_object('reaction', r.reaction), astegni_finish.run_id
  from pg_temp.import_reactions r where r.reason is not null
  on conflict on constraint exceptions_pkey do nothing;

  -- Read receipts of messages or profiles that were not imported cannot inform a watermark.
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'message_read_receipts', r.message_id || ':' || r.profile_id || ':' || r.profile_type,
         case when pm.user_id is null then 'unknown_user' else 'message_not_imported' end,
         '{}'::jsonb, astegni_finish.run_id
  from legacy_astegni.message_read_receipts r
  left join parley_import.message_map mm
    on mm.source = 'astegni' and mm.legacy_table = 'chat_messages' and mm.legacy_id = r.message_id
  left join parley_import.profile_map pm
    on pm.source = 'astegni' and pm.profile_id = r.profile_id and pm.profile_type = r.profile_type
  where mm.message_id is null or pm.user_id is null
  on conflict on constraint exceptions_pkey do nothing;

  -- Read watermarks (merge rule 3): up to just before the member's first unread imported
  -- message from someone else, so no unread message is ever marked read. A legacy message is
  -- read by a user if any of their profiles has a receipt; a call is news only if missed.
  perform parley_import.set_bulk(bulk);
  with members as (
    select distinct cm.conversation_id, cm.user_id
    from parley_import.conversation_map m
    join public.conversation_members cm on cm.conversation_id = m.conversation_id
    where m.source = 'astegni'
  ), unread as (
    select mb.conversation_id, mb.user_id, pg_catalog.min(msg.id) as first_unread
    from members mb
    join public.messages msg on msg.conversation_id = mb.conversation_id
    join parley_import.message_map mm on mm.message_id = msg.id and mm.source = 'astegni'
    left join legacy_astegni.call_logs cl on mm.legacy_table = 'call_logs' and cl.id = mm.legacy_id
    where msg.deleted_at is null and msg.sender_id is distinct from mb.user_id
      and case when mm.legacy_table = 'call_logs' then cl.status = 'missed'
               else not exists (
                 select 1 from legacy_astegni.message_read_receipts r
                 join parley_import.profile_map pm
                   on pm.source = 'astegni' and pm.profile_id = r.profile_id and pm.profile_type = r.profile_type
                 where r.message_id = mm.legacy_id and pm.user_id = mb.user_id) end
    group by mb.conversation_id, mb.user_id
  ), newest as (
    select msg.conversation_id, pg_catalog.max(msg.id) as newest_id
    from parley_import.message_map mm join public.messages msg on msg.id = mm.message_id
    where mm.source = 'astegni'
    group by msg.conversation_id
  ), target as (
    select mb.conversation_id, mb.user_id, coalesce(u.first_unread - 1, n.newest_id, 0) as watermark
    from members mb
    left join unread u on u.conversation_id = mb.conversation_id and u.user_id = mb.user_id
    left join newest n on n.conversation_id = mb.conversation_id
  )
  update public.inbox_entries e
  set last_read_message_id = t.watermark,
      last_delivered_message_id = greatest(e.last_delivered_message_id, t.watermark)
  from target t
  where e.user_id = t.user_id and e.conversation_id = t.conversation_id and e.last_read_message_id < t.watermark;
  get diagnostics watermarks = row_count;

  -- Archived where every merged participant row was archived, at the newest message.
  update public.inbox_entries e set archived_at_message_id = parley_internal.newest_message_id(e.conversation_id)
  from (
    select pm.user_id, m.conversation_id
    from legacy_astegni.conversation_participants p
    join parley_import.profile_map pm
      on pm.source = 'astegni' and pm.profile_id = p.profile_id and pm.profile_type = p.profile_type
    join parley_import.conversation_map m on m.source = 'astegni' and m.legacy_key = p.conversation_id::text
    group by pm.user_id, m.conversation_id
    having pg_catalog.bool_and(p.is_archived)
  ) a
  where e.user_id = a.user_id and e.conversation_id = a.conversation_id and e.archived_at_message_id is null;
  get diagnostics archived = row_count;
  perform parley_import.set_bulk(false);

  -- Blocks (merge rule 2): a block from any profile blocks the user (audited per row).
  drop table if exists pg_temp.import_blocks;
  create temp table import_blocks on commit drop as
  select b.id, bu.user_id as blocker_id, du.user_id as blocked_id, b.created_at,
         case when bu.user_id is null or du.user_id is null then 'unknown_user'
              when bu.user_id = du.user_id then 'self_block' end as reason
  from legacy_astegni.blocked_contacts b
  left join parley_import.profile_map bu on bu.source = 'astegni'
    and bu.profile_id = b.blocker_profile_id and bu.profile_type = b.blocker_profile_type
  left join parley_import.profile_map du on du.source = 'astegni'
    and du.profile_id = b.blocked_profile_id and du.profile_type = b.blocked_profile_type;
  insert into public.blocks (blocker_id, blocked_id, created_at)
  select distinct on (b.blocker_id, b.blocked_id) b.blocker_id, b.blocked_id, b.created_at
  from pg_temp.import_blocks b where b.reason is null
  order by b.blocker_id, b.blocked_id, b.created_at
  on conflict on constraint blocks_pkey do nothing;
  get diagnostics blocks = row_count;
  -- A block removes any connection or request between the two, as block_user does.
  delete from public.connections c using pg_temp.import_blocks b
  where b.reason is null and c.user_low = least(b.blocker_id, b.blocked_id)
    and c.user_high = greatest(b.blocker_id, b.blocked_id);
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'blocked_contacts', b.id::text, b.reason, '{}'::jsonb, astegni_finish.run_id
  from pg_temp.import_blocks b where b.reason is not null
  on conflict on constraint exceptions_pkey do nothing;

  -- Privacy (merge rule 4): the most restrictive of the user's profiles and their current settings.
  update public.privacy_settings p
  set who_can_message = parley_import.audience_of(greatest(
        parley_import.audience_rank(p.who_can_message::text), s.message_rank)),
      who_can_call = parley_import.audience_of(greatest(
        parley_import.audience_rank(p.who_can_call::text), s.call_rank)),
      show_online_status = p.show_online_status and s.online,
      send_read_receipts = p.send_read_receipts and s.receipts
  from (
    select pm.user_id, pg_catalog.max(parley_import.audience_rank(cs.who_can_message)) as message_rank,
           pg_catalog.max(parley_import.audience_rank(cs.who_can_call)) as call_rank,
           pg_catalog.bool_and(cs.show_online_status) as online, pg_catalog.bool_and(cs.read_receipts) as receipts
    from legacy_astegni.chat_settings cs
    join parley_import.profile_map pm
      on pm.source = 'astegni' and pm.profile_id = cs.profile_id and pm.profile_type = cs.profile_type
    group by pm.user_id
  ) s
  where p.user_id = s.user_id
    and (parley_import.audience_rank(p.who_can_message::text) < s.message_rank
         or parley_import.audience_rank(p.who_can_call::text) < s.call_rank
         or (p.show_online_status and not s.online) or (p.send_read_receipts and not s.receipts));
  get diagnostics privacy = row_count;
  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'astegni', 'chat_settings', cs.profile_id || ':' || cs.profile_type, 'unknown_user', '{}'::jsonb,
         astegni_finish.run_id
  from legacy_astegni.chat_settings cs
  where not exists (select 1 from parley_import.profile_map pm where pm.source = 'astegni'
                    and pm.profile_id = cs.profile_id and pm.profile_type = cs.profile_type)
  on conflict on constraint exceptions_pkey do nothing;

  figures := pg_catalog.jsonb_build_object('reactions_added', reactions, 'watermarks_moved', watermarks,
    'archived', archived, 'blocks_added', blocks, 'privacy_tightened', privacy,
    'messages', (select pg_catalog.count(*) from parley_import.message_map m where m.source = 'astegni'),
    'exceptions', (select pg_catalog.count(*) from parley_import.exceptions x where x.source = 'astegni'));
  perform parley_import.note_step(astegni_finish.run_id, 'finish', figures);
  return parley_import.finish_run(astegni_finish.run_id, '{}'::jsonb);
end
$$;
comment on function parley_import.astegni_finish(bigint) is
  'Astegni: reactions, read watermarks (never past an unread message), archive state, blocks from any profile, most restrictive privacy; closes the run.';
revoke all on function parley_import.astegni_finish(bigint) from public;

-- PEA support (seed 001) ------------------------------------------------------

create or replace function parley_import.pea_in_scope(
  group_id bigint, support_user_id bigint, support_groups bigint[], all_groups bigint[]
)
returns boolean
language sql
immutable
set search_path = ''
as $$
  -- A legacy message belongs to the support import if its group is a support group, or if it
  -- names a support user but its group is gone (then it is recorded as orphaned).
  select pea_in_scope.group_id = any (pea_in_scope.support_groups)
      or (pea_in_scope.support_user_id is not null and not (pea_in_scope.group_id = any (pea_in_scope.all_groups)))
$$;
comment on function parley_import.pea_in_scope(bigint, bigint, bigint[], bigint[]) is
  'Whether a legacy PEA message is part of the support import: its group is a support group, or it names a support user and its group is gone (orphaned).';
revoke all on function parley_import.pea_in_scope(bigint, bigint, bigint[], bigint[]) from public;

create or replace function parley_import.pea_groups(out support_groups bigint[], out all_groups bigint[])
language plpgsql
stable
set search_path = ''
as $$
begin
  select coalesce(pg_catalog.array_agg(g.id) filter (where g.group_type = 'support'), '{}'),
         coalesce(pg_catalog.array_agg(g.id), '{}')
  into pea_groups.support_groups, pea_groups.all_groups
  from legacy_pea.chat_groups g;
end
$$;
comment on function parley_import.pea_groups() is 'The legacy PEA support group ids and all group ids (for pea_in_scope).';
revoke all on function parley_import.pea_groups() from public;

create or replace function parley_import.pea_prepare(run_id bigint)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  org uuid;
  bulk boolean;
  users jsonb;
  personas bigint;
begin
  select r.organization_id, r.bulk into strict org, bulk from parley_import.runs r where r.id = pea_prepare.run_id;

  drop table if exists pg_temp.import_legacy_users;
  create temp table import_legacy_users on commit drop as
  select u.id as legacy_id, u.email, nullif(pg_catalog.btrim(u.name), '') as display_name,
         case when u.is_admin then 'admin' else 'member' end as org_role
  from legacy_pea.users u;
  users := parley_import.import_users('pea-support', pea_prepare.run_id, org);

  -- Personas (staff "fake users"); persona rows are audited (few).
  insert into parley_import.persona_map (source, legacy_id, persona_id)
  select 'pea-support', f.id, pg_catalog.gen_random_uuid() from legacy_pea.chat_fake_users f
  on conflict on constraint persona_map_pkey do nothing;
  insert into public.personas (id, organization_id, display_name, avatar_url, is_active, created_at)
  select pm.persona_id, org,
         pg_catalog.left(pg_catalog.btrim(coalesce(nullif(pg_catalog.btrim(f.name), ''), 'Support')), 80),
         case when f.avatar_url ~ '^https?://' then f.avatar_url end, f.is_active, f.created_at
  from legacy_pea.chat_fake_users f
  join parley_import.persona_map pm on pm.source = 'pea-support' and pm.legacy_id = f.id
  where not exists (select 1 from public.personas p where p.id = pm.persona_id);
  get diagnostics personas = row_count;

  -- One isolated support conversation per user with support messages.
  drop table if exists pg_temp.import_support_users;
  create temp table import_support_users on commit drop as
  select distinct m.support_conversation_user_id as legacy_user_id, um.user_id
  from legacy_pea.chat_messages m
  join legacy_pea.chat_groups g on g.id = m.group_id and g.group_type = 'support'
  join parley_import.user_map um on um.source = 'pea-support' and um.legacy_id = m.support_conversation_user_id;
  perform parley_import.set_bulk(bulk);
  insert into public.conversations (organization_id, kind, subject_user_id, support_status, created_by)
  select distinct org, 'support', s.user_id, 'open', s.user_id from pg_temp.import_support_users s
  on conflict (organization_id, kind, subject_user_id) where kind in ('support', 'notices') do nothing;
  insert into parley_import.conversation_map (source, legacy_key, conversation_id)
  select 'pea-support', 'support:' || s.legacy_user_id, c.id
  from pg_temp.import_support_users s
  join public.conversations c on c.organization_id = org and c.kind = 'support' and c.subject_user_id = s.user_id
  on conflict on constraint conversation_map_pkey do nothing;
  insert into public.conversation_members (conversation_id, user_id, role, visible_from_message_id)
  select distinct c.id, s.user_id, 'member', 0
  from pg_temp.import_support_users s
  join public.conversations c on c.organization_id = org and c.kind = 'support' and c.subject_user_id = s.user_id
  on conflict on constraint conversation_members_pkey do nothing;
  insert into public.inbox_entries (user_id, conversation_id, last_delivered_message_id, last_read_message_id,
                                    joined_at_message_id)
  select distinct s.user_id, c.id, 0::bigint, 0::bigint, 0::bigint
  from pg_temp.import_support_users s
  join public.conversations c on c.organization_id = org and c.kind = 'support' and c.subject_user_id = s.user_id
  on conflict on constraint inbox_entries_pkey do nothing;
  perform parley_import.set_bulk(false);

  analyze parley_import.user_map, parley_import.persona_map, parley_import.conversation_map;
  return parley_import.note_step(pea_prepare.run_id, 'prepare', users || pg_catalog.jsonb_build_object(
    'personas_created', personas,
    'support_conversations', (select pg_catalog.count(distinct m.conversation_id) from parley_import.conversation_map m
                              where m.source = 'pea-support')));
end
$$;
comment on function parley_import.pea_prepare(bigint) is
  'PEA: users by email (admins become organization admins), personas, and one support conversation per user with support messages.';
revoke all on function parley_import.pea_prepare(bigint) from public;

create or replace function parley_import.pea_messages(run_id bigint, batch_size integer)
returns integer
language plpgsql
volatile
set search_path = ''
as $$
declare
  org uuid;
  bulk boolean;
  max_length integer;
  after_at timestamptz;
  after_id bigint;
  consumed integer;
  last record;
  support_groups bigint[];
  all_groups bigint[];
begin
  select r.organization_id, r.bulk into strict org, bulk from parley_import.runs r where r.id = pea_messages.run_id;
  select g.support_groups, g.all_groups into support_groups, all_groups from parley_import.pea_groups() g;
  select s.max_message_length into max_length from public.organization_settings s where s.organization_id = org;
  select c.last_at, c.last_id into after_at, after_id
  from parley_import.checkpoints c where c.source = 'pea-support' for update;
  if not found then
    after_at := '-infinity'; after_id := -9223372036854775808;
  end if;

  drop table if exists pg_temp.import_batch;
  create temp table import_batch on commit drop as
  select 1::smallint as rank, m.id, m.created_at as at
  from legacy_pea.chat_messages m
  where (m.created_at, m.id) > (after_at, after_id)
    and parley_import.pea_in_scope(m.group_id, m.support_conversation_user_id, support_groups, all_groups)
  order by m.created_at, m.id limit pea_messages.batch_size;
  select pg_catalog.count(*) into consumed from pg_temp.import_batch;
  if consumed = 0 then
    return 0;
  end if;
  analyze pg_temp.import_batch;

  drop table if exists pg_temp.import_rows;
  create temp table import_rows on commit drop as
  select b.rank, b.id, b.at, m.group_id, m.support_conversation_user_id, cm.conversation_id,
         case when m.message_type = 'notification' then 'system'
              when m.sender_type = 'fake_user' then 'persona' else 'user' end as sender_kind,
         case when m.message_type = 'notification' or m.sender_type = 'fake_user' then null else su.user_id end as sender_id,
         case when m.sender_type = 'fake_user' and m.message_type <> 'notification' then pp.persona_id end as persona_id,
         case when m.sender_type = 'fake_user' then au.user_id
              when m.message_type = 'notification' and m.sender_type = 'admin' then su.user_id end as staff_id,
         case m.message_type when 'notification' then 'notice' else m.message_type end as kind,
         parley_import.legacy_body(m.content, m.is_deleted) as body,
         case when m.attachment_url is not null and not m.is_deleted then pg_catalog.jsonb_build_object('attachments',
           pg_catalog.jsonb_build_array(pg_catalog.jsonb_build_object('url', m.attachment_url))) else '{}'::jsonb end
           as metadata,
         case when m.is_deleted then m.created_at end as deleted_at,
         case
           when mm.message_id is not null then 'done'
           when g.id is null then 'orphaned'
           when m.support_conversation_user_id is null then 'no_support_user'
           when cm.conversation_id is null then 'unknown_user'
           when m.sender_type = 'fake_user' and pp.persona_id is null then 'unknown_persona'
           when m.sender_type in ('real_user', 'admin') and su.user_id is null then 'unknown_user'
           -- Another user's message in this user's thread would break isolation.
           when m.sender_type = 'real_user' and m.sender_id <> m.support_conversation_user_id
                and not coalesce(lu.is_admin, false) then 'foreign_sender'
           when not m.is_deleted and pg_catalog.length(m.content) > max_length then 'body_too_long'
           when not m.is_deleted and nullif(pg_catalog.btrim(m.content), '') is null and m.attachment_url is null
             then 'empty_body'
         end as reason,
         pg_catalog.length(m.content) as body_length, m.sender_type, m.sender_id as legacy_sender_id
  from pg_temp.import_batch b
  join legacy_pea.chat_messages m on m.id = b.id
  left join legacy_pea.chat_groups g on g.id = m.group_id
  left join legacy_pea.users lu on lu.id = m.sender_id and m.sender_type <> 'fake_user'
  left join parley_import.conversation_map cm
    on cm.source = 'pea-support' and cm.legacy_key = 'support:' || m.support_conversation_user_id
  left join parley_import.user_map su
    on su.source = 'pea-support' and su.legacy_id = m.sender_id and m.sender_type <> 'fake_user'
  left join parley_import.user_map au on au.source = 'pea-support' and au.legacy_id = m.sent_by_admin_id
  left join parley_import.persona_map pp
    on pp.source = 'pea-support' and pp.legacy_id = m.sender_id and m.sender_type = 'fake_user'
  left join parley_import.message_map mm
    on mm.source = 'pea-support' and mm.legacy_table = 'chat_messages' and mm.legacy_id = b.id;

  drop table if exists pg_temp.import_new;
  create temp table import_new on commit drop as
  select r.*, pg_catalog.nextval('public.messages_id_seq'::pg_catalog.regclass) as message_id
  from (select * from pg_temp.import_rows where reason is null order by at, id offset 0) r;
  if exists (select 1 from (select n.message_id, pg_catalog.lag(n.message_id) over (order by n.at, n.id) as previous
                            from pg_temp.import_new n) s where s.message_id < s.previous) then
    raise exception 'import: message ids would not follow legacy order' using errcode = 'XX000';
  end if;

  perform parley_import.set_bulk(bulk);
  insert into public.messages (id, conversation_id, sender_kind, sender_id, persona_id, kind, body, metadata,
                               created_at, deleted_at)
  overriding system value
  select n.message_id, n.conversation_id, n.sender_kind, n.sender_id, n.persona_id, n.kind, n.body, n.metadata,
         n.at, n.deleted_at
  from pg_temp.import_new n order by n.message_id;
  -- The real staff user behind persona messages and notices, where the legacy data knows it.
  insert into parley_internal.message_senders (message_id, sender_id, persona_id)
  select n.message_id, n.staff_id, n.persona_id from pg_temp.import_new n where n.staff_id is not null;
  insert into parley_import.message_map (source, legacy_table, legacy_id, message_id)
  select 'pea-support', 'chat_messages', n.id, n.message_id from pg_temp.import_new n;
  perform parley_import.set_bulk(false);

  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'pea-support', 'chat_messages', r.id::text, r.reason,
         pg_catalog.jsonb_strip_nulls(pg_catalog.jsonb_build_object('group_id', r.group_id,
           'support_user_id', r.support_conversation_user_id, 'sender_type', r.sender_type,
           'sender_id', r.legacy_sender_id, 'at', r.at,
           'length', case when r.reason = 'body_too_long' then r.body_length end,
           'limit', case when r.reason = 'body_too_long' then max_length end)),
         pea_messages.run_id
  from pg_temp.import_rows r where r.reason is not null and r.reason <> 'done'
  on conflict on constraint exceptions_pkey do nothing;

  select b.at, b.id into last from pg_temp.import_batch b order by b.at desc, b.id desc limit 1;
  insert into parley_import.checkpoints as c (source, last_at, last_rank, last_id, rows_done)
  values ('pea-support', last.at, 1, last.id, consumed)
  on conflict on constraint checkpoints_pkey do update
    set last_at = excluded.last_at, last_id = excluded.last_id,
        rows_done = c.rows_done + excluded.rows_done, updated_at = pg_catalog.now();
  return consumed;
end
$$;
comment on function parley_import.pea_messages(bigint, integer) is
  'PEA: import the next batch of support-group messages into each user''s own support conversation (persona messages keep their staff sender in message_senders); checkpoint with the batch. Returns rows consumed (0: done).';
revoke all on function parley_import.pea_messages(bigint, integer) from public;

create or replace function parley_import.pea_finish(run_id bigint, retire_source boolean)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  bulk boolean;
  watermarks bigint;
  retired bigint := 0;
begin
  select r.bulk into strict bulk from parley_import.runs r where r.id = pea_finish.run_id;
  analyze parley_import.message_map, public.messages, public.conversations, public.inbox_entries;
  -- The legacy group watermark (last_read_message_id over the whole group) applies to the
  -- user's own messages of that group: unread = after it, or no member row at all.
  perform parley_import.set_bulk(bulk);
  with unread as (
    select msg.conversation_id, c.subject_user_id as user_id, pg_catalog.min(msg.id) as first_unread
    from parley_import.message_map mm
    join public.messages msg on msg.id = mm.message_id
    join public.conversations c on c.id = msg.conversation_id
    join legacy_pea.chat_messages lm on lm.id = mm.legacy_id
    left join legacy_pea.chat_group_members gm on gm.group_id = lm.group_id and gm.user_id = lm.support_conversation_user_id
    where mm.source = 'pea-support' and msg.deleted_at is null and msg.sender_id is distinct from c.subject_user_id
      and (gm.last_read_message_id is null or lm.id > gm.last_read_message_id)
    group by msg.conversation_id, c.subject_user_id
  ), newest as (
    select msg.conversation_id, pg_catalog.max(msg.id) as newest_id
    from parley_import.message_map mm join public.messages msg on msg.id = mm.message_id
    where mm.source = 'pea-support'
    group by msg.conversation_id
  ), target as (
    select n.conversation_id, c.subject_user_id as user_id, coalesce(u.first_unread - 1, n.newest_id) as watermark
    from newest n
    join public.conversations c on c.id = n.conversation_id
    left join unread u on u.conversation_id = n.conversation_id
  )
  update public.inbox_entries e
  set last_read_message_id = t.watermark,
      last_delivered_message_id = greatest(e.last_delivered_message_id, t.watermark)
  from target t
  where e.user_id = t.user_id and e.conversation_id = t.conversation_id and e.last_read_message_id < t.watermark;
  get diagnostics watermarks = row_count;
  perform parley_import.set_bulk(false);

  insert into parley_import.exceptions (source, legacy_table, legacy_key, reason, detail, run_id)
  select 'pea-support', 'chat_group_members', gm.group_id || ':' || gm.user_id, 'unknown_user', '{}'::jsonb,
         pea_finish.run_id
  from legacy_pea.chat_group_members gm
  join legacy_pea.chat_groups g on g.id = gm.group_id and g.group_type = 'support'
  where not exists (select 1 from parley_import.user_map um where um.source = 'pea-support' and um.legacy_id = gm.user_id)
  on conflict on constraint exceptions_pkey do nothing;

  -- The old shared support group is retired: Parley never gets a shared support group, and
  -- with retire_source the legacy group is deactivated so the old app stops serving it.
  if pea_finish.retire_source then
    update legacy_pea.chat_groups g set is_active = false where g.group_type = 'support' and g.is_active;
    get diagnostics retired = row_count;
  end if;

  perform parley_import.note_step(pea_finish.run_id, 'finish', pg_catalog.jsonb_build_object(
    'watermarks_moved', watermarks, 'support_groups_retired', retired,
    'messages', (select pg_catalog.count(*) from parley_import.message_map m where m.source = 'pea-support'),
    'persona_messages', (select pg_catalog.count(*) from parley_import.message_map m
                         join public.messages x on x.id = m.message_id
                         where m.source = 'pea-support' and x.sender_kind = 'persona'),
    'exceptions', (select pg_catalog.count(*) from parley_import.exceptions x where x.source = 'pea-support')));
  return parley_import.finish_run(pea_finish.run_id, '{}'::jsonb);
end
$$;
comment on function parley_import.pea_finish(bigint, boolean) is
  'PEA: read watermarks from the legacy group watermark (never past an unread message), member exceptions, optionally retire the legacy support group; closes the run.';
revoke all on function parley_import.pea_finish(bigint, boolean) from public;

-- Verification ----------------------------------------------------------------

create or replace function parley_import.checksums(source text)
returns table (conversation_id uuid, legacy_messages bigint, parley_messages bigint, legacy_md5 text, parley_md5 text)
language plpgsql
stable
set search_path = ''
as $$
declare
  support_groups bigint[];
  all_groups bigint[];
begin
  -- Per Parley conversation: md5 over the bodies of the legacy rows that should be there (not in
  -- exceptions), in legacy order, against the imported messages in id order. A dropped, extra,
  -- misplaced or reordered message changes it. Tombstones count as '<deleted>'.
  if checksums.source = 'astegni' then
    return query
    with legacy as (
      select cm.conversation_id, pg_catalog.count(*) as n,
             pg_catalog.md5(pg_catalog.string_agg(coalesce(l.body, '<deleted>'), E'\x1f' order by l.at, l.rank, l.id)) as sum
      from (
        select 1 as rank, m.id, m.created_at as at, m.conversation_id,
               parley_import.legacy_body(m.content, m.is_deleted) as body
        from legacy_astegni.chat_messages m
        where not exists (select 1 from parley_import.exceptions x where x.source = 'astegni'
                          and x.legacy_table = 'chat_messages' and x.legacy_key = m.id::text)
        union all
        select 2, c.id, c.started_at, c.conversation_id, ''
        from legacy_astegni.call_logs c
        where not exists (select 1 from parley_import.exceptions x where x.source = 'astegni'
                          and x.legacy_table = 'call_logs' and x.legacy_key = c.id::text)
      ) l
      join parley_import.conversation_map cm on cm.source = 'astegni' and cm.legacy_key = l.conversation_id::text
      group by cm.conversation_id
    ), parley as (
      select msg.conversation_id, pg_catalog.count(*) as n,
             pg_catalog.md5(pg_catalog.string_agg(coalesce(msg.body, '<deleted>'), E'\x1f' order by msg.id)) as sum
      from parley_import.message_map mm join public.messages msg on msg.id = mm.message_id
      where mm.source = 'astegni'
      group by msg.conversation_id
    )
    select coalesce(l.conversation_id, p.conversation_id), coalesce(l.n, 0), coalesce(p.n, 0), l.sum, p.sum
    from legacy l full join parley p on p.conversation_id = l.conversation_id;
  else
    select g.support_groups, g.all_groups into support_groups, all_groups from parley_import.pea_groups() g;
    return query
    with legacy as (
      select cm.conversation_id, pg_catalog.count(*) as n,
             pg_catalog.md5(pg_catalog.string_agg(coalesce(parley_import.legacy_body(m.content, m.is_deleted), '<deleted>'),
                                                  E'\x1f' order by m.created_at, m.id)) as sum
      from legacy_pea.chat_messages m
      join parley_import.conversation_map cm
        on cm.source = 'pea-support' and cm.legacy_key = 'support:' || m.support_conversation_user_id
      where parley_import.pea_in_scope(m.group_id, m.support_conversation_user_id, support_groups, all_groups)
        and not exists (select 1 from parley_import.exceptions x where x.source = 'pea-support'
                        and x.legacy_table = 'chat_messages' and x.legacy_key = m.id::text)
      group by cm.conversation_id
    ), parley as (
      select msg.conversation_id, pg_catalog.count(*) as n,
             pg_catalog.md5(pg_catalog.string_agg(coalesce(msg.body, '<deleted>'), E'\x1f' order by msg.id)) as sum
      from parley_import.message_map mm join public.messages msg on msg.id = mm.message_id
      where mm.source = 'pea-support'
      group by msg.conversation_id
    )
    select coalesce(l.conversation_id, p.conversation_id), coalesce(l.n, 0), coalesce(p.n, 0), l.sum, p.sum
    from legacy l full join parley p on p.conversation_id = l.conversation_id;
  end if;
end
$$;
comment on function parley_import.checksums(text) is
  'Per conversation: legacy and Parley message counts and md5 of the bodies in order (legacy rows not in exceptions vs imported messages).';
revoke all on function parley_import.checksums(text) from public;

create or replace function parley_import.verify(source text)
returns table (item text, legacy bigint, imported bigint, exceptions bigint, ok boolean)
language plpgsql
volatile
set search_path = ''
as $$
declare
  s text := verify.source;
  support_groups bigint[];
  all_groups bigint[];
begin
  -- Counts per legacy table: every row is imported (found in Parley through the maps) or an exception.
  create temp table if not exists import_verify (item text, legacy bigint, imported bigint, legacy_table text);
  truncate pg_temp.import_verify;
  if s = 'astegni' then
    insert into pg_temp.import_verify
    select 'users', (select pg_catalog.count(*) from legacy_astegni.users),
           (select pg_catalog.count(*) from legacy_astegni.users u join parley_import.user_map m
              on m.source = s and m.legacy_id = u.id join auth.users a on a.id = m.user_id), 'users'
    union all
    select 'profiles', (select pg_catalog.count(*) from legacy_astegni.profiles),
           (select pg_catalog.count(*) from legacy_astegni.profiles p join parley_import.profile_map m
              on m.source = s and m.profile_id = p.profile_id and m.profile_type = p.profile_type), 'profiles'
    union all
    select 'conversations', (select pg_catalog.count(*) from legacy_astegni.conversations),
           (select pg_catalog.count(*) from legacy_astegni.conversations c join parley_import.conversation_map m
              on m.source = s and m.legacy_key = c.id::text join public.conversations pc on pc.id = m.conversation_id),
           'conversations'
    union all
    select 'conversation_participants', (select pg_catalog.count(*) from legacy_astegni.conversation_participants),
           (select pg_catalog.count(*) from legacy_astegni.conversation_participants p
            join parley_import.profile_map pm on pm.source = s and pm.profile_id = p.profile_id and pm.profile_type = p.profile_type
            join parley_import.conversation_map m on m.source = s and m.legacy_key = p.conversation_id::text
            join public.conversation_members cm on cm.conversation_id = m.conversation_id and cm.user_id = pm.user_id),
           'conversation_participants'
    union all
    select 'chat_messages', (select pg_catalog.count(*) from legacy_astegni.chat_messages),
           (select pg_catalog.count(*) from legacy_astegni.chat_messages lm join parley_import.message_map m
              on m.source = s and m.legacy_table = 'chat_messages' and m.legacy_id = lm.id
            join public.messages x on x.id = m.message_id), 'chat_messages'
    union all
    select 'call_logs', (select pg_catalog.count(*) from legacy_astegni.call_logs),
           (select pg_catalog.count(*) from legacy_astegni.call_logs c join parley_import.message_map m
              on m.source = s and m.legacy_table = 'call_logs' and m.legacy_id = c.id
            join public.messages x on x.id = m.message_id and x.kind = 'call'), 'call_logs'
    union all
    select 'message_reactions', (select pg_catalog.count(*) from legacy_astegni.message_reactions),
           (select pg_catalog.count(*) from legacy_astegni.message_reactions r
            join parley_import.message_map m on m.source = s and m.legacy_table = 'chat_messages' and m.legacy_id = r.message_id
            join parley_import.profile_map pm on pm.source = s and pm.profile_id = r.profile_id and pm.profile_type = r.profile_type
            join public.message_reactions x on x.message_id = m.message_id and x.user_id = pm.user_id and x.emoji = r.reaction),
           'message_reactions'
    union all
    select 'message_read_receipts', (select pg_catalog.count(*) from legacy_astegni.message_read_receipts),
           (select pg_catalog.count(*) from legacy_astegni.message_read_receipts r
            join parley_import.message_map m on m.source = s and m.legacy_table = 'chat_messages' and m.legacy_id = r.message_id
            join parley_import.profile_map pm on pm.source = s and pm.profile_id = r.profile_id and pm.profile_type = r.profile_type),
           'message_read_receipts'
    union all
    select 'blocked_contacts', (select pg_catalog.count(*) from legacy_astegni.blocked_contacts),
           (select pg_catalog.count(*) from legacy_astegni.blocked_contacts b
            join parley_import.profile_map bu on bu.source = s and bu.profile_id = b.blocker_profile_id and bu.profile_type = b.blocker_profile_type
            join parley_import.profile_map du on du.source = s and du.profile_id = b.blocked_profile_id and du.profile_type = b.blocked_profile_type
            join public.blocks x on x.blocker_id = bu.user_id and x.blocked_id = du.user_id),
           'blocked_contacts'
    union all
    select 'chat_settings', (select pg_catalog.count(*) from legacy_astegni.chat_settings),
           (select pg_catalog.count(*) from legacy_astegni.chat_settings cs
            join parley_import.profile_map pm on pm.source = s and pm.profile_id = cs.profile_id and pm.profile_type = cs.profile_type
            join public.privacy_settings p on p.user_id = pm.user_id
            where parley_import.audience_rank(p.who_can_message::text) >= parley_import.audience_rank(cs.who_can_message)
              and parley_import.audience_rank(p.who_can_call::text) >= parley_import.audience_rank(cs.who_can_call)
              and (cs.show_online_status or not p.show_online_status) and (cs.read_receipts or not p.send_read_receipts)),
           'chat_settings';
  else
    select g.support_groups, g.all_groups into support_groups, all_groups from parley_import.pea_groups() g;
    insert into pg_temp.import_verify
    select 'users', (select pg_catalog.count(*) from legacy_pea.users),
           (select pg_catalog.count(*) from legacy_pea.users u join parley_import.user_map m
              on m.source = s and m.legacy_id = u.id join auth.users a on a.id = m.user_id), 'users'
    union all
    select 'chat_fake_users', (select pg_catalog.count(*) from legacy_pea.chat_fake_users),
           (select pg_catalog.count(*) from legacy_pea.chat_fake_users f join parley_import.persona_map m
              on m.source = s and m.legacy_id = f.id join public.personas p on p.id = m.persona_id), 'chat_fake_users'
    union all
    select 'chat_group_members (support groups)',
           (select pg_catalog.count(*) from legacy_pea.chat_group_members gm
            join legacy_pea.chat_groups g on g.id = gm.group_id and g.group_type = 'support'),
           (select pg_catalog.count(*) from legacy_pea.chat_group_members gm
            join legacy_pea.chat_groups g on g.id = gm.group_id and g.group_type = 'support'
            join parley_import.user_map um on um.source = s and um.legacy_id = gm.user_id
            join public.organization_members om on om.user_id = um.user_id
              and om.organization_id = (select t.organization_id from parley_import.targets t where t.source = s)),
           'chat_group_members'
    union all
    select 'chat_messages (support)',
           (select pg_catalog.count(*) from legacy_pea.chat_messages m
            where parley_import.pea_in_scope(m.group_id, m.support_conversation_user_id, support_groups, all_groups)),
           (select pg_catalog.count(*) from legacy_pea.chat_messages lm join parley_import.message_map m
              on m.source = s and m.legacy_table = 'chat_messages' and m.legacy_id = lm.id
            join public.messages x on x.id = m.message_id), 'chat_messages';
  end if;
  return query
  select v.item, v.legacy, v.imported, x.n, v.legacy = v.imported + x.n
  from pg_temp.import_verify v
  cross join lateral (select pg_catalog.count(*) as n from parley_import.exceptions e
                      where e.source = s and e.legacy_table = v.legacy_table) x;
  return query
  select 'message checksums (conversations)'::text, pg_catalog.count(*), pg_catalog.count(*) filter (
           where c.legacy_messages = c.parley_messages and c.legacy_md5 is not distinct from c.parley_md5),
         0::bigint, pg_catalog.bool_and(c.legacy_messages = c.parley_messages
                                        and c.legacy_md5 is not distinct from c.parley_md5)
  from parley_import.checksums(s) c;
end
$$;
comment on function parley_import.verify(text) is
  'Verification report: per legacy table, legacy rows = imported + exceptions; and message body checksums per conversation.';
revoke all on function parley_import.verify(text) from public;

create or replace function parley_import.conflicts(source text)
returns table (kind text, detail text)
language plpgsql
stable
set search_path = ''
as $$
begin
  -- What a dry run lists besides the exceptions: merges and matches the import decides.
  return query
  select 'existing_account'::text, pg_catalog.format('legacy user %s (%s) is the existing Parley account %s',
                                                     m.legacy_id, a.email, a.id)
  from parley_import.user_map m join auth.users a on a.id = m.user_id
  where m.source = conflicts.source and not m.created_account
  union all
  select 'merged_accounts', pg_catalog.format('legacy users %s share the email %s: one Parley account %s',
                                              pg_catalog.string_agg(m.legacy_id::text, ', ' order by m.legacy_id), a.email, a.id)
  from parley_import.user_map m join auth.users a on a.id = m.user_id
  where m.source = conflicts.source
  group by a.id, a.email having pg_catalog.count(*) > 1
  union all
  select 'merged_conversations', pg_catalog.format('legacy conversations %s become one conversation %s',
                                                   pg_catalog.string_agg(m.legacy_key, ', ' order by m.legacy_key), m.conversation_id)
  from parley_import.conversation_map m
  where m.source = conflicts.source
  group by m.conversation_id having pg_catalog.count(*) > 1;
end
$$;
comment on function parley_import.conflicts(text) is
  'Merges and matches of an import (existing accounts, shared emails, merged conversations), for --dry-run.';
revoke all on function parley_import.conflicts(text) from public;
