-- Moderation (issue 18): reports and the queue, bans, mutes, kicks, and the
-- two small checks other paths call:
--   parley_internal.assert_not_restricted(organization_id, conversation_id, user_id)
--       from send_message: refuses a banned or muted sender (one probe of
--       the partial index moderation_restrictions_active_idx);
--   parley_internal.assert_not_banned_from(conversation_id, user_id)
--       from add_conversation_member: a user banned from a group cannot be
--       added back (or rejoin) while the ban lasts.
-- Every moderation change is audited (audit_moderation_change below appends
-- to the organization's hash chain through parley_internal.audit_append).
-- See docs/moderation.md.

-- Who moderates --------------------------------------------------------------

create or replace function parley_internal.moderated_organization_ids(user_id uuid)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.organization_id from public.organization_members m
  where m.user_id = moderated_organization_ids.user_id
    and parley_internal.has_permission(m.organization_id, 'chat.moderate', m.user_id)
$$;
comment on function parley_internal.moderated_organization_ids(uuid) is
  'The organizations where the user holds chat.moderate. Policies use it as "organization_id in (select ...)".';
select parley_internal.restrict_function('parley_internal.moderated_organization_ids(uuid)', '{service_role}');

create or replace function parley_internal.my_moderated_organization_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.moderated_organization_ids((select auth.uid()))
$$;
comment on function parley_internal.my_moderated_organization_ids() is
  'Policy helper: the organizations where the current user holds chat.moderate (evaluated once per statement).';
select parley_internal.restrict_function('parley_internal.my_moderated_organization_ids()', '{authenticated}');

create or replace function parley_internal.require_moderator(organization_id uuid, caller uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not parley_internal.is_organization_member(require_moderator.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not parley_internal.has_permission(require_moderator.organization_id, 'chat.moderate', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Moderating needs chat.moderate.',
      'Ask an owner of the organization for the chat.moderate permission.');
  end if;
end
$$;
comment on function parley_internal.require_moderator(uuid, uuid) is
  'Refuse (PT404 organization_not_found, 42501 no_permission) unless the user holds chat.moderate in the organization.';
select parley_internal.restrict_function('parley_internal.require_moderator(uuid, uuid)', '{}');

-- Whom a moderator may restrict: a member of the organization, not the
-- moderator, not an owner, and not another moderator unless the caller is an
-- owner or admin who may manage them (the organization's role rules).
create or replace function parley_internal.require_restrictable(organization_id uuid, caller uuid, target uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  target_role text := parley_internal.organization_role(require_restrictable.organization_id, target);
begin
  if target_role is null then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such member in this organization.',
      'Check the user id.');
  end if;
  if target = caller then
    perform parley_internal.refuse('P0001', 'self', 'You cannot moderate yourself.', 'Ask another moderator.');
  end if;
  if target_role = 'owner'
     or (parley_internal.has_permission(require_restrictable.organization_id, 'chat.moderate', target)
         and not parley_internal.may_manage_member(caller,
               parley_internal.organization_role(require_restrictable.organization_id, caller), target, target_role,
               target_role)) then
    perform parley_internal.refuse('42501', 'cannot_moderate_user',
      'Owners, and moderators you do not manage, cannot be banned, muted or kicked by you.',
      'Ask an owner of the organization.');
  end if;
end
$$;
comment on function parley_internal.require_restrictable(uuid, uuid, uuid) is
  'Refuse unless the moderator may restrict the target: a member (PT404 user_not_found), not themselves (P0001 self), not an owner nor a moderator they do not manage (42501 cannot_moderate_user).';
select parley_internal.restrict_function('parley_internal.require_restrictable(uuid, uuid, uuid)', '{}');

-- The hot-path checks ----------------------------------------------------------

drop function if exists parley_internal.active_restriction(uuid, uuid, uuid);  -- folded into assert_not_restricted

-- plpgsql, not SQL: the statement's plan is cached per session (a SECURITY DEFINER SQL function is planned
-- again on every call), and send_message calls it on every send.
create or replace function parley_internal.assert_not_restricted(organization_id uuid, conversation_id uuid, user_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  restriction public.moderation_restrictions;
begin
  -- One cached statement, one probe of moderation_restrictions_active_idx; for nearly every sender the
  -- index has no entry for them and this is all a send pays.
  select r.* into restriction from public.moderation_restrictions r
  where r.user_id = assert_not_restricted.user_id
    and r.organization_id = assert_not_restricted.organization_id
    and r.lifted_at is null
    and (r.conversation_id is null or r.conversation_id = assert_not_restricted.conversation_id)
    and (r.expires_at is null or r.expires_at > pg_catalog.now())
  order by r.kind, r.expires_at desc nulls first
  limit 1;
  if restriction.id is null then
    return;
  end if;
  perform parley_internal.refuse('42501', case restriction.kind when 'ban' then 'banned' else 'muted' end,
    pg_catalog.format('You are %s %s%s.',
      case restriction.kind when 'ban' then 'banned from sending' else 'muted' end,
      case when restriction.conversation_id is null then 'in this organization' else 'in this conversation' end,
      case when restriction.expires_at is null then ''
           else ' until ' || pg_catalog.to_char(restriction.expires_at at time zone 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS"Z"') end),
    'A moderator restricted you; my_restrictions() lists your restrictions and when they end.');
end
$$;
comment on function parley_internal.assert_not_restricted(uuid, uuid, uuid) is
  'Send path: refuse (42501 banned or muted) if the user has an active ban or mute in the organization or the conversation.';
select parley_internal.restrict_function('parley_internal.assert_not_restricted(uuid, uuid, uuid)', '{}');

create or replace function parley_internal.assert_not_banned_from(conversation_id uuid, user_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  ban_expires timestamptz;
begin
  select r.expires_at into ban_expires from public.moderation_restrictions r
  where r.user_id = assert_not_banned_from.user_id and r.conversation_id = assert_not_banned_from.conversation_id
    and r.kind = 'ban' and r.lifted_at is null and (r.expires_at is null or r.expires_at > pg_catalog.now())
  limit 1;
  if found then
    perform parley_internal.refuse('42501', 'banned', 'This user is banned from this conversation.',
      'A moderator banned them; they can be added again when the ban is lifted or expires.');
  end if;
end
$$;
comment on function parley_internal.assert_not_banned_from(uuid, uuid) is
  'Join path: refuse (42501 banned) if the user has an active ban from this conversation.';
select parley_internal.restrict_function('parley_internal.assert_not_banned_from(uuid, uuid)', '{}');

-- Audit ----------------------------------------------------------------------------

-- Reports and restrictions append to the organization's audit chain. The
-- report's note and evidence (message content) are not copied into the
-- append-only log: the report row keeps them.
create or replace function parley_internal.audit_moderation_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  row_data jsonb := pg_catalog.to_jsonb(coalesce(new, old)) - array['note', 'evidence', 'resolution_note'];
  action text;
  old_values jsonb;
  new_values jsonb;
begin
  if not exists (select 1 from public.organizations o where o.id = (row_data ->> 'organization_id')::uuid) then
    return null;  -- deleted with its organization (the organization.delete entry closes the chain)
  end if;
  if tg_table_name = 'message_reports' then
    action := case when tg_op = 'INSERT' then 'message_report.create'
                   when tg_op = 'DELETE' then 'message_report.delete'
                   when new.status is distinct from old.status then 'message_report.' || new.status
                   else 'message_report.update' end;
  else
    action := case when tg_op = 'INSERT' then 'moderation.' || new.kind
                   when tg_op = 'DELETE' then 'moderation.delete'
                   when new.lifted_at is not null and old.lifted_at is null then 'moderation.lift'
                   else 'moderation.' || new.kind || '_update' end;
  end if;
  if tg_op = 'INSERT' then
    new_values := row_data;
  elsif tg_op = 'DELETE' then
    old_values := row_data;
  else
    select pg_catalog.jsonb_object_agg(k, o.value), pg_catalog.jsonb_object_agg(k, n.value)
      into old_values, new_values
    from pg_catalog.jsonb_each(pg_catalog.to_jsonb(old) - array['note', 'evidence', 'resolution_note']) as o(k, value)
    join pg_catalog.jsonb_each(row_data) as n(k2, value) on n.k2 = o.k
    where o.value is distinct from n.value;
    if old_values is null then
      return null;
    end if;
  end if;
  perform parley_internal.audit_append((row_data ->> 'organization_id')::uuid, null, null, action,
    tg_table_schema || '.' || tg_table_name, row_data ->> 'id', old_values, new_values);
  return null;
end
$$;
comment on function parley_internal.audit_moderation_change() is
  'Trigger (AFTER, per row): append message_report.* and moderation.* entries to the organization''s audit chain (notes and evidence left out).';
select parley_internal.restrict_function('parley_internal.audit_moderation_change()', '{}');

drop trigger if exists message_reports_audit on public.message_reports;
create trigger message_reports_audit after insert or update or delete on public.message_reports
  for each row execute function parley_internal.audit_moderation_change();
drop trigger if exists moderation_restrictions_audit on public.moderation_restrictions;
create trigger moderation_restrictions_audit after insert or update or delete on public.moderation_restrictions
  for each row execute function parley_internal.audit_moderation_change();

-- Reports ------------------------------------------------------------------------------

create or replace function parley_internal.report_message(
  message_id bigint,
  reason text,
  note text default null,
  out id bigint,
  out status text,
  out created_at timestamptz
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  clean_note text := nullif(pg_catalog.btrim(report_message.note), '');
  reported public.messages;
  organization uuid;
  report public.message_reports;
begin
  if report_message.reason is null or report_message.reason not in ('spam', 'harassment', 'hate', 'violence', 'sexual',
       'self_harm', 'illegal', 'misinformation', 'other') then
    perform parley_internal.refuse('P0001', 'invalid_reason',
      'A report reason is spam, harassment, hate, violence, sexual, self_harm, illegal, misinformation or other.',
      'Pick one of the listed reasons; explain in note.');
  end if;
  if pg_catalog.length(clean_note) > 1000 then
    perform parley_internal.refuse('P0001', 'note_too_long', 'A report note is at most 1000 characters.',
      'Shorten the note.');
  end if;
  if clean_note ~ '[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'A report note cannot contain control characters.',
      'Remove them.');
  end if;
  -- The same refusal for a message that does not exist and one the caller cannot read: a report never
  -- tells anyone what a conversation they are not in contains.
  reported := parley_internal.readable_message(report_message.message_id, caller, 'share');
  if reported.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.',
      'Deleted messages have no content left to report.');
  end if;
  if reported.sender_kind = 'system' and reported.kind <> 'notice' then
    perform parley_internal.refuse('P0001', 'cannot_report', 'System messages cannot be reported.',
      'Report a message a person sent.');
  end if;
  if parley_internal.is_message_author(reported, caller) then
    perform parley_internal.refuse('P0001', 'own_message', 'You cannot report your own message.',
      'Delete it instead.');
  end if;
  select c.organization_id into organization from public.conversations c where c.id = reported.conversation_id;
  insert into public.message_reports as r (organization_id, conversation_id, message_id, reporter_id,
                                           reported_user_id, reason, note, evidence)
  values (organization, reported.conversation_id, reported.id, caller, parley_internal.real_sender_of(reported),
          report_message.reason, clean_note,
          pg_catalog.jsonb_build_object(
            'kind', reported.kind, 'body', reported.body, 'metadata', reported.metadata,
            'sender_kind', reported.sender_kind, 'sender_id', reported.sender_id, 'persona_id', reported.persona_id,
            'reply_to_message_id', reported.reply_to_message_id, 'created_at', reported.created_at,
            'edited_at', reported.edited_at,
            'attachments', coalesce((
              select pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                       'id', a.id, 'object_name', a.object_name, 'file_name', a.file_name,
                       'content_type', a.content_type, 'size_bytes', a.size_bytes) order by a.position)
              from public.attachments a where a.message_id = reported.id), '[]'::jsonb)))
  on conflict (message_id, reporter_id) do nothing
  returning * into report;
  if report.id is null then
    -- Reported before: the first report stands (idempotent retry).
    select * into strict report from public.message_reports r
    where r.message_id = reported.id and r.reporter_id = caller;
  end if;
  id := report.id;
  status := report.status;
  created_at := report.created_at;
end
$$;
comment on function parley_internal.report_message(bigint, text, text) is
  'Report a message you can read to the organization''s moderators: reason (spam, harassment, hate, violence, sexual, self_harm, illegal, misinformation, other) and an optional note (up to 1000 characters). A copy of the message is kept as evidence. Reporting the same message again returns the first report.';
select parley_internal.publish_function('parley_internal.report_message(bigint, text, text)');

create or replace function parley_internal.my_reports(before_id bigint default null, page_size integer default 50)
returns table (id bigint, message_id bigint, conversation_id uuid, reason text, note text, status text,
               created_at timestamptz, resolved_at timestamptz, resolved_by uuid)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  if my_reports.page_size is null or my_reports.page_size not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 100.', 'Use 50.');
  end if;
  return query
  select r.id, r.message_id, r.conversation_id, r.reason, r.note, r.status, r.created_at, r.resolved_at,
         case when s.moderation_reveal_moderator then r.resolved_by end
  from public.message_reports r
  left join public.organization_settings s on s.organization_id = r.organization_id
  where r.reporter_id = caller and (my_reports.before_id is null or r.id < my_reports.before_id)
  order by r.id desc
  limit my_reports.page_size;
end
$$;
comment on function parley_internal.my_reports(bigint, integer) is
  'Your reports, newest first (keyset: pass the last id as before_id): state and when it was resolved. resolved_by is null unless the organization reveals its moderators.';
select parley_internal.publish_function('parley_internal.my_reports(bigint, integer)');

-- A moderator's deletion of a reported message. The tombstone is
-- delete_message's (functions/message_changes.sql: body null, metadata emptied,
-- pin, edit history, reactions and mentions gone), written here because
-- delete_message acts as a reader of the conversation and organization
-- moderators need not be members. deleted_by names the moderator only when
-- the organization reveals its moderators: the reporter reads the
-- conversation and must not learn who acted.
create or replace function parley_internal.moderator_delete_message(message_id bigint, caller uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  target public.messages;
  reveal boolean;
begin
  select * into target from public.messages m where m.id = moderator_delete_message.message_id for no key update;
  if not found or target.deleted_at is not null then
    return;  -- gone or already a tombstone: the report keeps its evidence either way
  end if;
  select s.moderation_reveal_moderator into reveal
  from public.conversations c join public.organization_settings s on s.organization_id = c.organization_id
  where c.id = target.conversation_id;
  update public.messages m
  set body = null, metadata = '{}', deleted_at = pg_catalog.now(),
      deleted_by = case when coalesce(reveal, false) then moderator_delete_message.caller end,
      pinned_at = null, pinned_by = null
  where m.id = target.id;
  delete from public.message_edits e where e.message_id = target.id;
  delete from public.message_reactions r where r.message_id = target.id;
  delete from public.message_mentions mm where mm.message_id = target.id;
end
$$;
comment on function parley_internal.moderator_delete_message(bigint, uuid) is
  'Tombstone a reported message as a moderator (as delete_message does); deleted_by is null unless the organization reveals its moderators.';
select parley_internal.restrict_function('parley_internal.moderator_delete_message(bigint, uuid)', '{}');

create or replace function parley_internal.resolve_report(
  report_id bigint,
  status text,
  resolution_note text default null,
  delete_message boolean default false
)
returns public.message_reports
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  report public.message_reports;
  clean_note text := nullif(pg_catalog.btrim(resolve_report.resolution_note), '');
begin
  if resolve_report.status is null or resolve_report.status not in ('actioned', 'dismissed') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A report is resolved as actioned or dismissed.',
      'Pass status actioned or dismissed.');
  end if;
  if pg_catalog.length(clean_note) > 1000 then
    perform parley_internal.refuse('P0001', 'note_too_long', 'A resolution note is at most 1000 characters.',
      'Shorten the note.');
  end if;
  if resolve_report.delete_message is null
     or (resolve_report.delete_message and resolve_report.status <> 'actioned') then
    perform parley_internal.refuse('P0001', 'invalid_delete_message',
      'delete_message is true only when the report is actioned.', 'Pass status actioned, or delete_message false.');
  end if;
  select * into report from public.message_reports r where r.id = resolve_report.report_id;
  if not found or not parley_internal.has_permission(report.organization_id, 'chat.moderate', caller) then
    perform parley_internal.refuse('PT404', 'report_not_found', 'No such report.',
      'Check the report id; moderators (chat.moderate) resolve their organization''s reports.');
  end if;
  select * into report from public.message_reports r where r.id = report.id for update;
  if report.status <> 'open' then
    perform parley_internal.refuse('PT409', 'already_resolved',
      pg_catalog.format('This report was already %s.', report.status), 'Nothing to do.');
  end if;
  if resolve_report.delete_message and report.message_id is not null then
    perform parley_internal.moderator_delete_message(report.message_id, caller);
  end if;
  update public.message_reports r
  set status = resolve_report.status, resolution_note = clean_note, resolved_by = caller,
      resolved_at = pg_catalog.now()
  where r.id = report.id
  returning * into report;
  return report;
end
$$;
comment on function parley_internal.resolve_report(bigint, text, text, boolean) is
  'Moderators (chat.moderate): resolve an open report as actioned or dismissed, with an optional note; delete_message (actioned only) turns the reported message into a tombstone while the report keeps its evidence.';
select parley_internal.publish_function('parley_internal.resolve_report(bigint, text, text, boolean)');

-- Bans, mutes, kicks -----------------------------------------------------------------------

-- Remove a user from a group as a moderator: the roster row goes, and the
-- group sees "X was removed by a moderator" (the moderator named only when
-- the organization reveals its moderators).
create or replace function parley_internal.moderator_remove_member(conversation_id uuid, user_id uuid, caller uuid)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  removed public.conversation_members;
  reveal boolean;
  name text;
begin
  delete from public.conversation_members m
  where m.conversation_id = moderator_remove_member.conversation_id and m.user_id = moderator_remove_member.user_id
  returning * into removed;
  if not found then
    return false;
  end if;
  select s.moderation_reveal_moderator into reveal
  from public.conversations c join public.organization_settings s on s.organization_id = c.organization_id
  where c.id = moderator_remove_member.conversation_id;
  select coalesce((select p.display_name from public.profiles p where p.id = removed.user_id), 'someone') into name;
  perform parley_internal.post_system_message(moderator_remove_member.conversation_id,
    name || ' was removed by a moderator',
    pg_catalog.jsonb_build_object('event', 'member_removed', 'by_moderator', true,
      'actor_id', case when coalesce(reveal, false) then caller end,
      'user_ids', pg_catalog.jsonb_build_array(removed.user_id)));
  return true;
end
$$;
comment on function parley_internal.moderator_remove_member(uuid, uuid, uuid) is
  'Remove a member as a moderator and post "X was removed by a moderator" (metadata names the moderator only if the organization reveals moderators). False if not a member.';
select parley_internal.restrict_function('parley_internal.moderator_remove_member(uuid, uuid, uuid)', '{}');

-- The conversation a conversation-scoped restriction or kick applies to,
-- locked against concurrent membership changes; it must belong to the
-- organization.
create or replace function parley_internal.moderated_conversation(organization_id uuid, conversation_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  conversation public.conversations;
begin
  select * into conversation from public.conversations c
  where c.id = moderated_conversation.conversation_id and c.organization_id = moderated_conversation.organization_id
  for no key update;
  if not found then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation in this organization.',
      'Check the conversation id.');
  end if;
  return conversation;
end
$$;
comment on function parley_internal.moderated_conversation(uuid, uuid) is
  'The organization''s conversation, locked FOR NO KEY UPDATE; PT404 conversation_not_found otherwise.';
select parley_internal.restrict_function('parley_internal.moderated_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.restrict_user(
  organization_id uuid, user_id uuid, kind text, conversation_id uuid, expires_at timestamptz, reason text,
  report_id bigint
)
returns public.moderation_restrictions
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  clean_reason text := nullif(pg_catalog.btrim(restrict_user.reason), '');
  conversation public.conversations;
  restriction public.moderation_restrictions;
begin
  perform parley_internal.require_moderator(restrict_user.organization_id, caller);
  if restrict_user.expires_at is not null and restrict_user.expires_at <= pg_catalog.now() then
    perform parley_internal.refuse('P0001', 'invalid_expiry', 'A restriction expires in the future.',
      'Pass a later expires_at, or null for a ban until lifted.');
  end if;
  if pg_catalog.length(clean_reason) > 1000 then
    perform parley_internal.refuse('P0001', 'reason_too_long', 'A reason is at most 1000 characters.',
      'Shorten it.');
  end if;
  if restrict_user.report_id is not null and not exists (
       select 1 from public.message_reports r
       where r.id = restrict_user.report_id and r.organization_id = restrict_user.organization_id) then
    perform parley_internal.refuse('PT404', 'report_not_found', 'No such report in this organization.',
      'Check the report id, or pass null.');
  end if;
  perform parley_internal.require_restrictable(restrict_user.organization_id, caller, restrict_user.user_id);
  if restrict_user.conversation_id is not null then
    conversation := parley_internal.moderated_conversation(restrict_user.organization_id,
                                                            restrict_user.conversation_id);
  end if;
  -- One unlifted restriction per kind and scope: a second ban or mute replaces the first one's terms.
  insert into public.moderation_restrictions as r (organization_id, conversation_id, user_id, kind, reason, report_id,
                                                   expires_at, created_by)
  values (restrict_user.organization_id, restrict_user.conversation_id, restrict_user.user_id, restrict_user.kind,
          clean_reason, restrict_user.report_id, restrict_user.expires_at, caller)
  on conflict (organization_id, user_id, kind, coalesce(conversation_id, '00000000-0000-0000-0000-000000000000'::uuid))
    where lifted_at is null
  do update set reason = excluded.reason, report_id = coalesce(excluded.report_id, r.report_id),
                expires_at = excluded.expires_at, created_by = excluded.created_by, created_at = pg_catalog.now()
  returning * into restriction;
  -- A group ban also removes the user from the group.
  if restrict_user.kind = 'ban' and conversation.kind = 'group' then
    perform parley_internal.moderator_remove_member(conversation.id, restrict_user.user_id, caller);
  end if;
  return restriction;
end
$$;
comment on function parley_internal.restrict_user(uuid, uuid, text, uuid, timestamptz, text, bigint) is
  'Impose (or renew) a ban or mute; the checks and the write behind ban_user and mute_user.';
select parley_internal.restrict_function(
  'parley_internal.restrict_user(uuid, uuid, text, uuid, timestamptz, text, bigint)', '{}');

create or replace function parley_internal.ban_user(
  organization_id uuid,
  user_id uuid,
  conversation_id uuid default null,
  expires_at timestamptz default null,
  reason text default null,
  report_id bigint default null
)
returns public.moderation_restrictions
language sql
volatile
security definer
set search_path = ''
as $$
  select * from parley_internal.restrict_user(ban_user.organization_id, ban_user.user_id, 'ban',
    ban_user.conversation_id, ban_user.expires_at, ban_user.reason, ban_user.report_id)
$$;
comment on function parley_internal.ban_user(uuid, uuid, uuid, timestamptz, text, bigint) is
  'Moderators (chat.moderate): ban a member from the organization''s chat (conversation_id null: no sending anywhere) or from one conversation (removed from a group and kept out). expires_at null: until lifted. Banning again replaces the terms.';
select parley_internal.publish_function('parley_internal.ban_user(uuid, uuid, uuid, timestamptz, text, bigint)');

create or replace function parley_internal.mute_user(
  organization_id uuid,
  user_id uuid,
  duration_seconds integer,
  conversation_id uuid default null,
  reason text default null,
  report_id bigint default null
)
returns public.moderation_restrictions
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  if mute_user.duration_seconds is null or mute_user.duration_seconds not between 1 and 31536000 then
    perform parley_internal.refuse('P0001', 'invalid_duration', 'A mute lasts from 1 second to 365 days.',
      'Pass duration_seconds, e.g. 3600 for an hour; ban_user for longer.');
  end if;
  return parley_internal.restrict_user(mute_user.organization_id, mute_user.user_id, 'mute', mute_user.conversation_id,
    pg_catalog.now() + pg_catalog.make_interval(secs => mute_user.duration_seconds), mute_user.reason,
    mute_user.report_id);
end
$$;
comment on function parley_internal.mute_user(uuid, uuid, integer, uuid, text, bigint) is
  'Moderators (chat.moderate): mute a member for duration_seconds (1 s to 365 days) in the organization (conversation_id null) or one conversation: they read but cannot send. Muting again replaces the duration.';
select parley_internal.publish_function('parley_internal.mute_user(uuid, uuid, integer, uuid, text, bigint)');

create or replace function parley_internal.lift_restriction(restriction_id bigint)
returns public.moderation_restrictions
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  restriction public.moderation_restrictions;
begin
  select * into restriction from public.moderation_restrictions r where r.id = lift_restriction.restriction_id;
  if not found or not parley_internal.has_permission(restriction.organization_id, 'chat.moderate', caller) then
    perform parley_internal.refuse('PT404', 'restriction_not_found', 'No such ban or mute.',
      'Check the id; moderators (chat.moderate) lift their organization''s restrictions.');
  end if;
  update public.moderation_restrictions r set lifted_at = pg_catalog.now(), lifted_by = caller
  where r.id = restriction.id and r.lifted_at is null
  returning * into restriction;
  if not found then
    perform parley_internal.refuse('PT409', 'already_lifted', 'This restriction was already lifted.',
      'Nothing to do.');
  end if;
  return restriction;
end
$$;
comment on function parley_internal.lift_restriction(bigint) is
  'Moderators (chat.moderate): lift a ban or mute before it expires.';
select parley_internal.publish_function('parley_internal.lift_restriction(bigint)');

create or replace function parley_internal.kick_member(conversation_id uuid, user_id uuid, reason text default null)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  conversation public.conversations;
  organization uuid;
begin
  select c.organization_id into organization from public.conversations c where c.id = kick_member.conversation_id;
  if organization is null then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id.');
  end if;
  perform parley_internal.require_moderator(organization, caller);
  if pg_catalog.length(kick_member.reason) > 1000 then
    perform parley_internal.refuse('P0001', 'reason_too_long', 'A reason is at most 1000 characters.', 'Shorten it.');
  end if;
  conversation := parley_internal.moderated_conversation(organization, kick_member.conversation_id);
  if conversation.kind <> 'group' then
    perform parley_internal.refuse('P0001', 'not_a_group', 'Members are kicked from groups only.',
      'Ban the user from the organization''s chat instead.');
  end if;
  perform parley_internal.require_restrictable(organization, caller, kick_member.user_id);
  if parley_internal.conversation_role(conversation.id, kick_member.user_id) = 'owner' then
    perform parley_internal.refuse('42501', 'cannot_moderate_user', 'The group''s owner cannot be kicked.',
      'Transfer the group first, or ban the user from the organization''s chat.');
  end if;
  if not parley_internal.moderator_remove_member(conversation.id, kick_member.user_id, caller) then
    perform parley_internal.refuse('PT404', 'member_not_found', 'This user is not a member of the group.',
      'Check the user id.');
  end if;
  perform parley_internal.audit_append(organization, null, null, 'moderation.kick', 'public.conversation_members',
    conversation.id::text || '/' || kick_member.user_id::text, null,
    pg_catalog.jsonb_build_object('conversation_id', conversation.id, 'user_id', kick_member.user_id,
                                  'reason', nullif(pg_catalog.btrim(kick_member.reason), '')));
  return true;
end
$$;
comment on function parley_internal.kick_member(uuid, uuid, text) is
  'Moderators (chat.moderate): remove a member from a group (they may be added again; ban_user with the conversation keeps them out). Not the group''s owner.';
select parley_internal.publish_function('parley_internal.kick_member(uuid, uuid, text)');

create or replace function parley_internal.my_restrictions()
returns table (id bigint, organization_id uuid, conversation_id uuid, kind text, reason text,
               expires_at timestamptz, created_at timestamptz, created_by uuid)
language sql
stable
security definer
set search_path = ''
as $$
  select r.id, r.organization_id, r.conversation_id, r.kind, r.reason, r.expires_at, r.created_at,
         case when s.moderation_reveal_moderator then r.created_by end
  from public.moderation_restrictions r
  left join public.organization_settings s on s.organization_id = r.organization_id
  where r.user_id = (select auth.uid()) and r.lifted_at is null
    and (r.expires_at is null or r.expires_at > pg_catalog.now())
  order by r.id
$$;
comment on function parley_internal.my_restrictions() is
  'Your active bans and mutes: where (organization, or one conversation), why and until when. created_by is null unless the organization reveals its moderators.';
select parley_internal.publish_function('parley_internal.my_restrictions()');
