-- Message retention and legal hold (issue 18): settings RPCs, the batch that
-- deletes expired messages (and, through the existing cascades and
-- triggers, their reactions, edits, mentions, attachments and files), and
-- its pg_cron schedule where pg_cron is installed (one batch a minute).
-- Elsewhere `parley worker retention` runs the same batches back to back,
-- each its own transaction. See docs/retention.md.

-- Settings ---------------------------------------------------------------------

create or replace function parley_internal.require_retention_admin(conversation_id uuid, caller uuid)
returns public.conversations
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  conversation public.conversations;
begin
  select * into conversation from public.conversations c where c.id = require_retention_admin.conversation_id;
  if not found or not parley_internal.is_organization_member(conversation.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id.');
  end if;
  if not parley_internal.is_organization_admin(conversation.organization_id, caller) then
    perform parley_internal.refuse('42501', 'no_permission',
      'Only the organization''s owners and admins set retention and legal holds.', 'Ask an owner or admin.');
  end if;
  return conversation;
end
$$;
comment on function parley_internal.require_retention_admin(uuid, uuid) is
  'The conversation, refused (PT404 conversation_not_found, 42501 no_permission) unless the user is an owner or admin of its organization.';
select parley_internal.restrict_function('parley_internal.require_retention_admin(uuid, uuid)', '{}');

create or replace function parley_internal.set_conversation_retention(conversation_id uuid, retention_days integer)
returns public.conversation_retention
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  conversation public.conversations;
  saved public.conversation_retention;
begin
  if set_conversation_retention.retention_days is not null
     and set_conversation_retention.retention_days not between 1 and 36500 then
    perform parley_internal.refuse('P0001', 'invalid_retention_days', 'A retention period is 1 to 36500 days.',
      'Pass null to use the organization''s period.');
  end if;
  conversation := parley_internal.require_retention_admin(set_conversation_retention.conversation_id, caller);
  insert into public.conversation_retention as r (conversation_id, organization_id, retention_days, updated_by)
  values (conversation.id, conversation.organization_id, set_conversation_retention.retention_days, caller)
  on conflict (conversation_id) do update
    set retention_days = excluded.retention_days, updated_by = excluded.updated_by, updated_at = pg_catalog.now()
  returning * into saved;
  return saved;
end
$$;
comment on function parley_internal.set_conversation_retention(uuid, integer) is
  'Owners and admins: delete this conversation''s messages older than retention_days (1 to 36500), or null to follow the organization''s message_retention_days.';
select parley_internal.publish_function('parley_internal.set_conversation_retention(uuid, integer)');

create or replace function parley_internal.set_legal_hold(conversation_id uuid, hold boolean, reason text default null)
returns public.conversation_retention
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  clean_reason text := nullif(pg_catalog.btrim(set_legal_hold.reason), '');
  conversation public.conversations;
  saved public.conversation_retention;
begin
  if set_legal_hold.hold is null then
    perform parley_internal.refuse('P0001', 'invalid_hold', 'hold is true or false.', 'Pass false to release.');
  end if;
  if pg_catalog.length(clean_reason) > 1000 then
    perform parley_internal.refuse('P0001', 'reason_too_long', 'A reason is at most 1000 characters.',
      'Shorten it.');
  end if;
  conversation := parley_internal.require_retention_admin(set_legal_hold.conversation_id, caller);
  insert into public.conversation_retention as r (conversation_id, organization_id, legal_hold_at, legal_hold_by,
                                                  legal_hold_reason, updated_by)
  values (conversation.id, conversation.organization_id,
          case when set_legal_hold.hold then pg_catalog.now() end,
          case when set_legal_hold.hold then caller end,
          case when set_legal_hold.hold then clean_reason end, caller)
  on conflict (conversation_id) do update
    set legal_hold_at = case when set_legal_hold.hold then coalesce(r.legal_hold_at, pg_catalog.now()) end,
        legal_hold_by = case when set_legal_hold.hold then coalesce(r.legal_hold_by, caller) end,
        legal_hold_reason = case when set_legal_hold.hold then coalesce(clean_reason, r.legal_hold_reason) end,
        updated_by = caller, updated_at = pg_catalog.now()
  returning * into saved;
  return saved;
end
$$;
comment on function parley_internal.set_legal_hold(uuid, boolean, text) is
  'Owners and admins: place (hold true, with a reason such as a case reference) or release (false) a legal hold on a conversation. While held, retention deletes nothing in it and erase_user keeps its messages.';
select parley_internal.publish_function('parley_internal.set_legal_hold(uuid, boolean, text)');

-- Whether a conversation is on legal hold (erase_user asks).
create or replace function parley_internal.is_on_legal_hold(conversation_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (select 1 from public.conversation_retention r
                 where r.conversation_id = is_on_legal_hold.conversation_id and r.legal_hold_at is not null)
$$;
comment on function parley_internal.is_on_legal_hold(uuid) is
  'Whether the conversation is on legal hold.';
select parley_internal.restrict_function('parley_internal.is_on_legal_hold(uuid)', '{}');

-- Audit: every change of a retention period or legal hold.
create or replace function parley_internal.audit_retention_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  old_row jsonb := case when tg_op <> 'INSERT' then pg_catalog.to_jsonb(old) - array['updated_at', 'updated_by'] end;
  new_row jsonb := case when tg_op <> 'DELETE' then pg_catalog.to_jsonb(new) - array['updated_at', 'updated_by'] end;
  row_data jsonb := coalesce(new_row, old_row);
  action text;
begin
  if old_row is not distinct from new_row
     or not exists (select 1 from public.organizations o where o.id = (row_data ->> 'organization_id')::uuid) then
    return null;
  end if;
  action := case
    when (new_row ->> 'legal_hold_at') is not null and (old_row ->> 'legal_hold_at') is null then 'retention.legal_hold'
    when (new_row ->> 'legal_hold_at') is null and (old_row ->> 'legal_hold_at') is not null then 'retention.legal_hold_release'
    else 'retention.policy' end;
  perform parley_internal.audit_append((row_data ->> 'organization_id')::uuid, null, null, action,
    tg_table_schema || '.' || tg_table_name, row_data ->> 'conversation_id', old_row, new_row);
  return null;
end
$$;
comment on function parley_internal.audit_retention_change() is
  'Trigger (AFTER, per row): append retention.policy, retention.legal_hold or retention.legal_hold_release to the organization''s audit chain.';
select parley_internal.restrict_function('parley_internal.audit_retention_change()', '{}');

drop trigger if exists conversation_retention_audit on public.conversation_retention;
create trigger conversation_retention_audit after insert or update or delete on public.conversation_retention
  for each row execute function parley_internal.audit_retention_change();

-- The job ------------------------------------------------------------------------

-- The batch: delete up to batch_size expired messages, oldest first, and up
-- to batch_size calls that ended before the cut-off (participants cascade;
-- live calls are never touched), in the conversations whose effective period
-- (the conversation's, else the organization's) has run out and that are not
-- on legal hold. `now` is the clock (tests pass their own). One statement:
-- the cut-offs are computed once for both deletes. Messages go with a plain
-- DELETE: reactions, edits, mentions and attachment rows cascade (the
-- attachments trigger queues the files for the file worker), reports keep
-- their evidence (message_id set null). Short: row locks on at most
-- batch_size messages and batch_size calls, no table lock. Returns how many
-- rows it deleted (messages plus calls; 0: nothing left).
create or replace function parley_internal.retention_batch(now timestamptz, batch_size integer default 1000)
returns integer
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  deleted integer := 0;
  counts jsonb;
  per_organization jsonb;
begin
  if retention_batch.now is null or retention_batch.batch_size is null
     or retention_batch.batch_size not between 1 and 100000 then
    perform parley_internal.refuse('P0001', 'invalid_batch', 'now is a time and batch_size is 1 to 100000.',
      'Call retention_batch(now(), 1000).');
  end if;
  with eligible as materialized (
    select c.id, c.organization_id,
           retention_batch.now - pg_catalog.make_interval(days => coalesce(p.retention_days, s.message_retention_days))
             as cutoff
    from public.conversations c
    left join public.conversation_retention p on p.conversation_id = c.id
    left join public.organization_settings s on s.organization_id = c.organization_id
    where coalesce(p.retention_days, s.message_retention_days) is not null
      and p.legal_hold_at is null
  ), due as (
    -- One index probe per conversation: is its oldest message past the cut-off?
    select e.* from eligible e
    where (select m.created_at from public.messages m where m.conversation_id = e.id order by m.id limit 1) < e.cutoff
  ), doomed as (
    select m.id from due
    cross join lateral (
      select m.id, m.created_at from public.messages m
      where m.conversation_id = due.id order by m.id limit retention_batch.batch_size) m
    where m.created_at < due.cutoff
    order by m.id
    limit retention_batch.batch_size
  ), gone as (
    delete from public.messages m using doomed where m.id = doomed.id
    returning m.id, m.conversation_id
  ), doomed_calls as (
    select s.id from eligible e
    cross join lateral (
      select s.id from public.call_sessions s
      where s.conversation_id = e.id and s.state = 'ended' and s.ended_at < e.cutoff
      order by s.history_id limit retention_batch.batch_size) s
    limit retention_batch.batch_size
  ), gone_calls as (
    delete from public.call_sessions s using doomed_calls d where s.id = d.id returning s.organization_id
  ), messages as (
    select c.organization_id, pg_catalog.count(*)::integer as messages, pg_catalog.min(g.id) as first_id,
           pg_catalog.max(g.id) as last_id
    from gone g join public.conversations c on c.id = g.conversation_id
    group by c.organization_id
  ), calls as (
    select g.organization_id, pg_catalog.count(*)::integer as calls from gone_calls g group by g.organization_id
  )
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'organization_id', coalesce(m.organization_id, k.organization_id),
           'messages', coalesce(m.messages, 0), 'first_id', m.first_id, 'last_id', m.last_id,
           'calls', coalesce(k.calls, 0))), '[]'::jsonb)
  into counts
  from messages m full join calls k on k.organization_id = m.organization_id;
  for per_organization in select * from pg_catalog.jsonb_array_elements(counts) loop
    deleted := deleted + (per_organization ->> 'messages')::integer + (per_organization ->> 'calls')::integer;
    insert into parley_internal.retention_runs (clock, organization_id, deleted_messages, deleted_calls)
    values (retention_batch.now, (per_organization ->> 'organization_id')::uuid,
            (per_organization ->> 'messages')::integer, (per_organization ->> 'calls')::integer);
    perform parley_internal.audit_append((per_organization ->> 'organization_id')::uuid, null, null,
      'retention.delete', 'public.messages', null, null,
      (per_organization - 'organization_id') || pg_catalog.jsonb_build_object('clock', retention_batch.now));
  end loop;
  return deleted;
end
$$;
comment on function parley_internal.retention_batch(timestamptz, integer) is
  'Retention: delete up to batch_size expired messages (oldest first) and up to batch_size calls that ended before the cut-off, in conversations not on legal hold, by the clock now; logs retention.delete per organization (messages, first_id, last_id, calls). Returns the number of rows deleted (0: nothing left).';
select parley_internal.restrict_function('parley_internal.retention_batch(timestamptz, integer)', '{service_role}');

-- Schedule it where pg_cron is installed (Supabase: enable the pg_cron extension, then re-apply this file):
-- one batch of up to 5,000 messages a minute, each its own short transaction (7.2 million a day).
do $schedule$
begin
  if exists (select 1 from pg_catalog.pg_extension where extname = 'pg_cron') then
    perform cron.schedule('parley-retention', '* * * * *',
                          'select parley_internal.retention_batch(pg_catalog.now(), 5000)');
  else
    raise notice 'parley: pg_cron is not installed; run "parley worker retention" to apply message retention.';
  end if;
end
$schedule$;
