-- Data-subject rights (issue 18): export_my_data (access and portability)
-- and erase_user (erasure), also run when an auth.users row is deleted.
-- See docs/data-rights.md.

-- Export -------------------------------------------------------------------------

create or replace function parley_internal.export_my_data()
returns jsonb
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  return pg_catalog.jsonb_build_object(
    'format', 'parley.export.v1',
    'generated_at', pg_catalog.now(),
    'user_id', caller,
    'account', (select pg_catalog.jsonb_build_object('email', u.email, 'created_at', u.created_at)
                from auth.users u where u.id = caller),
    'profile', (select pg_catalog.to_jsonb(p) from public.profiles p where p.id = caller),
    'privacy_settings', (select pg_catalog.to_jsonb(s) - 'user_id' from public.privacy_settings s
                         where s.user_id = caller),
    'presence', (select pg_catalog.to_jsonb(p) - 'user_id' from public.presence p where p.user_id = caller),
    'organizations', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'organization_id', m.organization_id, 'name', o.name, 'role', m.role,
               'joined_at', m.created_at) order by m.organization_id)
      from public.organization_members m join public.organizations o on o.id = m.organization_id
      where m.user_id = caller), '[]'),
    'conversations', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'conversation_id', m.conversation_id, 'organization_id', c.organization_id, 'kind', c.kind,
               'title', c.title, 'role', m.role, 'joined_at', m.joined_at,
               'read_state', pg_catalog.to_jsonb(i) - 'user_id' - 'conversation_id') order by m.conversation_id)
      from public.conversation_members m
      join public.conversations c on c.id = m.conversation_id
      left join public.inbox_entries i on i.user_id = m.user_id and i.conversation_id = m.conversation_id
      where m.user_id = caller), '[]'),
    'messages', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', msg.id, 'conversation_id', msg.conversation_id, 'kind', msg.kind, 'body', msg.body,
               'metadata', msg.metadata, 'reply_to_message_id', msg.reply_to_message_id,
               'persona_id', msg.persona_id, 'created_at', msg.created_at, 'edited_at', msg.edited_at,
               'deleted_at', msg.deleted_at) order by msg.id)
      from public.messages msg
      where msg.sender_id = caller
         or msg.id in (select s.message_id from parley_internal.message_senders s where s.sender_id = caller)), '[]'),
    'message_edits', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'message_id', e.message_id, 'previous_body', e.previous_body,
               'edited_at', e.edited_at) order by e.id)
      from public.message_edits e where e.edited_by = caller), '[]'),
    'reactions', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(r) - 'user_id' order by r.message_id, r.emoji)
      from public.message_reactions r where r.user_id = caller), '[]'),
    'mentions', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(mm) - 'user_id' order by mm.message_id)
      from public.message_mentions mm where mm.user_id = caller), '[]'),
    'attachments', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', a.id, 'conversation_id', a.conversation_id, 'message_id', a.message_id,
               'bucket_id', a.bucket_id, 'object_name', a.object_name, 'file_name', a.file_name,
               'content_type', a.content_type, 'size_bytes', a.size_bytes, 'status', a.status,
               'created_at', a.created_at) order by a.created_at, a.id)
      from public.attachments a where a.uploader_id = caller), '[]'),
    'connections', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'user_id', case when c.user_low = caller then c.user_high else c.user_low end,
               'status', c.status, 'requested_by_me', c.requested_by = caller, 'created_at', c.created_at,
               'accepted_at', c.accepted_at) order by c.created_at)
      from public.connections c where caller in (c.user_low, c.user_high)), '[]'),
    'blocks', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.to_jsonb(b) - 'blocker_id' order by b.blocked_id)
      from public.blocks b where b.blocker_id = caller), '[]'),
    'reports_filed', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'id', r.id, 'message_id', r.message_id, 'reason', r.reason, 'note', r.note, 'status', r.status,
               'created_at', r.created_at, 'resolved_at', r.resolved_at) order by r.id)
      from public.message_reports r where r.reporter_id = caller), '[]'),
    'restrictions', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'organization_id', r.organization_id, 'conversation_id', r.conversation_id, 'kind', r.kind,
               'reason', r.reason, 'expires_at', r.expires_at, 'created_at', r.created_at,
               'lifted_at', r.lifted_at) order by r.id)
      from public.moderation_restrictions r where r.user_id = caller), '[]'),
    'calls', coalesce((
      select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
               'call_id', s.id, 'conversation_id', s.conversation_id, 'media', s.media,
               'initiated_by_me', s.initiator_id is not distinct from caller, 'my_state', p.state,
               'invited_at', p.invited_at, 'joined_at', p.joined_at, 'left_at', p.left_at,
               'started_at', s.started_at, 'answered_at', s.answered_at, 'ended_at', s.ended_at,
               'end_reason', s.end_reason) order by s.started_at, s.id)
      from public.call_participants p join public.call_sessions s on s.id = p.call_id
      where p.user_id = caller), '[]'));
end
$$;
comment on function parley_internal.export_my_data() is
  'Everything Parley holds about you as one JSON document: account email, profile, privacy settings, presence, organizations, conversations with your read state, the messages you sent (persona messages included) and your edits, reactions, mentions, uploaded files (object names: sign them with Storage to download), connections, blocks, reports you filed, restrictions on you and the calls you took part in (your state in each). The worker command parley worker export writes it with the files into an archive.';
select parley_internal.publish_function('parley_internal.export_my_data()');

-- Erasure -------------------------------------------------------------------------

-- The keys of audit old_values/new_values that carry personal content
-- (message bodies, names, notes...). Ids, roles and flags stay readable.
create or replace function parley_internal.audit_personal_keys()
returns text[]
language sql
immutable
set search_path = ''
as $$
  select array['body', 'previous_body', 'metadata', 'display_name', 'username', 'email', 'avatar_url', 'bio',
               'title', 'description', 'note', 'reason', 'resolution_note', 'file_name', 'name', 'full_name',
               'phone', 'status_text']
$$;
comment on function parley_internal.audit_personal_keys() is
  'Keys of audit old_values/new_values that hold personal content; erase_user replaces them by their digests.';
select parley_internal.restrict_function('parley_internal.audit_personal_keys()', '{}');

create or replace function parley_internal.erase_user_data(target uuid, source text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  kept_messages bigint := 0;
  tombstoned bigint := 0;
  removed_reactions bigint := 0;
  removed_mentions bigint := 0;
  removed_uploads bigint := 0;
  queued_objects bigint := 0;
  reports_touched bigint := 0;
  evidence_erased bigint := 0;
  audit_values bigint := 0;
  profile_anonymised boolean := false;
  organizations uuid[];
  organization uuid;
  summary jsonb;
  entry record;
begin
  if target is null then
    perform parley_internal.refuse('P0001', 'invalid_user', 'Name the user to erase.', 'Pass user_id.');
  end if;
  if not exists (select 1 from auth.users u where u.id = target)
     and not exists (select 1 from public.profiles p where p.id = target)
     and not exists (select 1 from parley_internal.user_erasures e where e.user_id = target) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such user.', 'Check the user id.');
  end if;
  -- One erasure of a user at a time; a repeat erases whatever appeared since (idempotent).
  perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('parley.erase_user:' || target::text, 0));
  organizations := array(select m.organization_id from public.organization_members m where m.user_id = target);

  -- 1. Messages: tombstones, unless the organization must keep them or the conversation is on legal hold.
  -- No index serves sender_id (it would cost every send): this is one scan of messages, for a rare operation.
  with erased as (
    update public.messages m
    set body = null, metadata = '{}', deleted_at = pg_catalog.now(), deleted_by = null, pinned_at = null,
        pinned_by = null
    from public.conversations c
    left join public.organization_settings s on s.organization_id = c.organization_id
    where m.sender_id = target and m.deleted_at is null and c.id = m.conversation_id
      and not coalesce(s.keep_messages_on_erasure, false)
      and not parley_internal.is_on_legal_hold(c.id)  -- functions/retention.sql
    returning m.id
  ), cleaned_edits as (
    delete from public.message_edits e using erased where e.message_id = erased.id
  ), cleaned_reactions as (
    delete from public.message_reactions r using erased where r.message_id = erased.id
  ), cleaned_mentions as (
    delete from public.message_mentions mm using erased where mm.message_id = erased.id
  )
  select pg_catalog.count(*) into tombstoned from erased;
  select pg_catalog.count(*) into kept_messages from public.messages m
  where m.sender_id = target and m.deleted_at is null;

  -- 2. What the user left on other people's messages.
  delete from public.message_reactions r where r.user_id = target;
  get diagnostics removed_reactions = row_count;
  delete from public.message_mentions mm where mm.user_id = target;
  get diagnostics removed_mentions = row_count;

  -- 3. Files, through the storage path: attachment rows go (their bytes and storage.objects rows are queued
  -- for the file worker by the attachments trigger), except files of messages kept by law; uploads never
  -- registered as attachments are queued directly.
  delete from public.attachments a
  where a.uploader_id = target
    and (a.message_id is null or not exists (
      select 1 from public.messages m where m.id = a.message_id and m.deleted_at is null
        and m.sender_id = target));
  get diagnostics removed_uploads = row_count;
  insert into parley_internal.file_deletions (bucket_id, object_name, reason)
  select o.bucket_id, o.name, 'user_erased'
  from storage.objects o
  where (o.owner = target or o.owner_id = target::text) and o.bucket_id = 'chat-files'
    and not exists (select 1 from public.attachments a
                    where a.object_name = o.name or a.thumbnail_object_name = o.name)
    and not exists (select 1 from parley_internal.file_deletions d where d.object_name = o.name);
  get diagnostics queued_objects = row_count;

  -- 4. Reports: the reporter disappears from their reports; the evidence of reports about the user's messages
  -- loses its content unless the organization keeps messages.
  update public.message_reports r set reporter_id = null, note = null where r.reporter_id = target;
  get diagnostics reports_touched = row_count;
  update public.message_reports r
  set evidence = (r.evidence - array['body', 'metadata', 'attachments']) || '{"erased": true}'::jsonb
  from public.organization_settings s
  where r.reported_user_id = target and s.organization_id = r.organization_id
    and not s.keep_messages_on_erasure and not coalesce((r.evidence ->> 'erased')::boolean, false);
  get diagnostics evidence_erased = row_count;

  -- 5. The profile is anonymised; presence, connections and blocks go.
  update public.profiles p
  set username = 'deleted_' || pg_catalog.left(pg_catalog.replace(target::text, '-', ''), 20),
      display_name = 'Deleted user', avatar_url = null, bio = null, app_roles = '{}', locale = 'en',
      time_zone = 'UTC'
  where p.id = target and p.display_name is distinct from 'Deleted user';
  profile_anonymised := found;
  delete from public.presence p where p.user_id = target;
  delete from public.connections c where target in (c.user_low, c.user_high);
  delete from public.blocks b where target in (b.blocker_id, b.blocked_id);

  -- 6. The audit trail: personal values of entries by or about the user (and of their messages, whose
  -- message.delete entries steps 1 just wrote) are replaced by their digests; the chains still verify.
  for entry in
    with mine as (select m.id::text as id from public.messages m where m.sender_id = target)
    select a.id, a.actor_id = target as by_user
    from public.audit_log a
    where a.hash_version = 2 and a.actor_id = target
    union
    select a.id, false from public.audit_log a
    where a.hash_version = 2 and a.subject_user_id = target
    union
    select a.id, false from public.audit_log a
    where a.hash_version = 2 and a.organization_id = any (organizations)
      and (a.object_id = target::text or a.object_id like '%/' || target::text
           or (a.table_name in ('public.messages', 'parley_internal.message_senders')
               and a.object_id in (select mine.id from mine)))
  loop
    audit_values := audit_values + parley_internal.audit_erase_values(entry.id, entry.by_user,
                                                                      parley_internal.audit_personal_keys());
  end loop;

  summary := pg_catalog.jsonb_build_object(
    'messages_tombstoned', tombstoned, 'messages_kept', kept_messages, 'reactions_removed', removed_reactions,
    'mentions_removed', removed_mentions, 'attachments_removed', removed_uploads,
    'objects_queued', queued_objects, 'reports_unlinked', reports_touched, 'evidence_erased', evidence_erased,
    'audit_values_erased', audit_values, 'profile_anonymised', profile_anonymised);
  -- 7. The erasure itself is recorded: on the user's chain and on each organization's.
  perform parley_internal.audit_append(null, target, null, 'user.erase', 'auth.users', target::text, null,
                                       summary || pg_catalog.jsonb_build_object('source', source));
  foreach organization in array organizations loop
    perform parley_internal.audit_append(organization, null, null, 'user.erase', 'auth.users', target::text, null,
                                         pg_catalog.jsonb_build_object('source', source));
  end loop;
  insert into parley_internal.user_erasures as e (user_id, source, summary)
  values (target, source, summary)
  on conflict (user_id) do update set last_erased_at = pg_catalog.now(), source = excluded.source,
                                      summary = excluded.summary;
  return summary;
end
$$;
comment on function parley_internal.erase_user_data(uuid, text) is
  'The erasure behind erase_user and the auth.users deletion trigger; returns what was erased.';
select parley_internal.restrict_function('parley_internal.erase_user_data(uuid, text)', '{}');

create or replace function parley_internal.erase_user(user_id uuid)
returns jsonb
language sql
volatile
security definer
set search_path = ''
as $$
  select parley_internal.erase_user_data(erase_user.user_id, 'erase_user')
$$;
comment on function parley_internal.erase_user(uuid) is
  'service_role: erase a user''s personal data. Their messages become tombstones (kept as they are where the organization''s keep_messages_on_erasure says so), their files are deleted through the storage path, their reactions, mentions, presence, connections and blocks go, their profile is anonymised, and personal values in the audit trail are replaced by their hashes (the chains still verify; the erasure itself is logged). Idempotent. Returns the counts.';
select parley_internal.publish_function('parley_internal.erase_user(uuid)', '{service_role}');

-- When an account is deleted (GoTrue's admin API, or a DELETE on auth.users),
-- erase first: the foreign keys' cascades then remove memberships and the
-- profile row itself.
create or replace function parley_internal.handle_deleted_user()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  perform parley_internal.erase_user_data(old.id, 'auth_user_deleted');
  return old;
end
$$;
comment on function parley_internal.handle_deleted_user() is
  'Trigger on auth.users (before delete): erase the user''s personal data before the account row goes.';
select parley_internal.restrict_function('parley_internal.handle_deleted_user()', '{}');

-- On a hosted Supabase project auth.users belongs to supabase_auth_admin; the
-- postgres role may create triggers on it today, but if it may not, the
-- migration goes on without the trigger and says what to do instead.
do $auth_trigger$
begin
  drop trigger if exists parley_on_auth_user_deleted on auth.users;
  create trigger parley_on_auth_user_deleted before delete on auth.users
    for each row execute function parley_internal.handle_deleted_user();
exception when insufficient_privilege then
  raise warning using
    message = pg_catalog.format('parley: %s may not create a trigger on auth.users; deleting an account will not erase its chat data by itself.', current_user),
    hint = 'Call rpc erase_user(user_id) with the service_role key before deleting the account (docs/data-rights.md).';
end
$auth_trigger$;
