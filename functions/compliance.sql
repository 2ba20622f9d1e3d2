-- Compliance mode (issue 12 part 3, seed 002): switch, reader rule, export.
-- Schema in sql/compliance.sql; docs in docs/audit.md ("Compliance mode").

create or replace function parley_internal.is_compliance_reader(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select c.archived_by_organization
           and parley_internal.has_permission(c.organization_id, 'chat.audit_read', is_compliance_reader.user_id)
    from public.conversations c where c.id = is_compliance_reader.conversation_id
  ), false)
$$;
comment on function parley_internal.is_compliance_reader(uuid, uuid) is
  'Whether the user may read the conversation as its organization''s auditor: compliance mode is on and they hold chat.audit_read there.';
select parley_internal.restrict_function('parley_internal.is_compliance_reader(uuid, uuid)', '{service_role}');

create or replace function parley_internal.set_compliance_mode(organization_id uuid, enabled boolean)
returns public.organization_settings
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  settings public.organization_settings;
begin
  if enabled is null then
    perform parley_internal.refuse('P0001', 'invalid_enabled', 'enabled is true or false.', 'Pass false to switch it off.');
  end if;
  perform parley_internal.lock_organization(set_compliance_mode.organization_id);
  if parley_internal.organization_role(set_compliance_mode.organization_id, caller) is distinct from 'owner' then
    if parley_internal.is_organization_member(set_compliance_mode.organization_id, caller) then
      perform parley_internal.refuse('42501', 'not_owner', 'Only the organization''s owner switches compliance mode.',
        'Ask the owner.');
    end if;
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  settings := parley_internal.organization_settings_of(set_compliance_mode.organization_id);
  if settings.compliance_mode = enabled then
    perform parley_internal.refuse('PT409', 'compliance_mode_unchanged',
      pg_catalog.format('Compliance mode is already %s.', case when enabled then 'on' else 'off' end),
      'Nothing to change.');
  end if;
  -- The settings update is the audit entry (organization_settings.compliance_mode, functions/audit.sql).
  update public.organization_settings s set compliance_mode = set_compliance_mode.enabled
  where s.organization_id = set_compliance_mode.organization_id
  returning * into settings;
  update public.conversations c set archived_by_organization = set_compliance_mode.enabled
  where c.organization_id = set_compliance_mode.organization_id
    and c.archived_by_organization is distinct from set_compliance_mode.enabled;
  return settings;
end
$$;
comment on function parley_internal.set_compliance_mode(uuid, boolean) is
  'Owners: switch the organization''s compliance mode on or off (audited). On: holders of chat.audit_read read any conversation through get_messages (each read audited) and export it with export_compliance_messages; every send is audited; conversations carry archived_by_organization.';
select parley_internal.publish_function('parley_internal.set_compliance_mode(uuid, boolean)'::regprocedure);

create or replace function parley_internal.conversation_archive_flag()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  new.archived_by_organization := coalesce((select s.compliance_mode from public.organization_settings s
                                            where s.organization_id = new.organization_id), false);
  return new;
end
$$;
comment on function parley_internal.conversation_archive_flag() is
  'Trigger: a new conversation carries its organization''s compliance mode (archived_by_organization).';
select parley_internal.restrict_function('parley_internal.conversation_archive_flag()', '{}');

drop trigger if exists conversations_archive_flag on public.conversations;
create trigger conversations_archive_flag before insert on public.conversations
  for each row execute function parley_internal.conversation_archive_flag();

-- Sends in compliance mode: the audit entry (edits and deletions are always audited).
create or replace function parley_internal.audit_compliance_send(message public.messages, organization_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  perform parley_internal.audit_append(audit_compliance_send.organization_id, null, message.persona_id,
    'message.send', 'public.messages', message.id::text, null,
    pg_catalog.jsonb_build_object('conversation_id', message.conversation_id, 'kind', message.kind,
                                  'sender_kind', message.sender_kind, 'body', message.body,
                                  'metadata', message.metadata));
end
$$;
comment on function parley_internal.audit_compliance_send(public.messages, uuid) is
  'Compliance mode: append message.send (the body, kind, sender kind; actor_id names the real sender) to the organization''s audit chain.';
select parley_internal.restrict_function('parley_internal.audit_compliance_send(public.messages, uuid)', '{}');

-- Export ---------------------------------------------------------------------------

create or replace function parley_internal.export_compliance_messages(
  organization_id uuid,
  conversation_id uuid default null,
  sent_from timestamptz default null,
  sent_until timestamptz default null,
  after_message_id bigint default 0,
  page_size integer default 1000
)
returns text
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  lines text;
  exported integer;
  last_id bigint;
begin
  if not parley_internal.is_organization_member(export_compliance_messages.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not parley_internal.has_permission(export_compliance_messages.organization_id, 'chat.audit_read', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only holders of chat.audit_read export messages.',
      'Ask the owner for the chat.audit_read permission.');
  end if;
  if not (parley_internal.organization_settings_of(export_compliance_messages.organization_id)).compliance_mode then
    perform parley_internal.refuse('PT409', 'compliance_mode_off', 'Compliance mode is off in this organization.',
      'The owner switches it on with set_compliance_mode.');
  end if;
  if page_size is null or page_size not between 1 and 10000 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 10000.', 'Use 1000.');
  end if;
  if after_message_id is null or after_message_id < 0 then
    perform parley_internal.refuse('P0001', 'invalid_cursor', 'after_message_id is a message id (0 to start).',
      'Pass the last id of the previous page.');
  end if;
  if export_compliance_messages.conversation_id is not null and not exists (
       select 1 from public.conversations c
       where c.id = export_compliance_messages.conversation_id
         and c.organization_id = export_compliance_messages.organization_id) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation in this organization.',
      'Check the conversation id.');
  end if;
  if sent_from is not null and sent_until is not null and sent_from > sent_until then
    perform parley_internal.refuse('P0001', 'invalid_range', 'sent_from is after sent_until.', 'Swap them.');
  end if;

  -- Keyset by message id; the whole organization or one conversation; a time range on created_at.
  select pg_catalog.string_agg(pg_catalog.jsonb_build_object(
           'id', m.id, 'conversation_id', m.conversation_id, 'conversation_kind', c.kind,
           'sender_kind', m.sender_kind, 'sender_id', m.sender_id, 'persona_id', m.persona_id,
           'real_sender_id', coalesce(m.sender_id, s.sender_id), 'kind', m.kind, 'body', m.body,
           'metadata', m.metadata, 'reply_to_message_id', m.reply_to_message_id, 'created_at', m.created_at,
           'edited_at', m.edited_at, 'deleted_at', m.deleted_at)::text, pg_catalog.chr(10) order by m.id),
         pg_catalog.count(*), pg_catalog.max(m.id)
    into lines, exported, last_id
  from (select m.* from public.messages m
        join public.conversations mc on mc.id = m.conversation_id
        where mc.organization_id = export_compliance_messages.organization_id
          and (export_compliance_messages.conversation_id is null
               or m.conversation_id = export_compliance_messages.conversation_id)
          and m.id > export_compliance_messages.after_message_id
          and (sent_from is null or m.created_at >= sent_from)
          and (sent_until is null or m.created_at < sent_until)
        order by m.id
        limit export_compliance_messages.page_size) m
  join public.conversations c on c.id = m.conversation_id
  left join parley_internal.message_senders s on s.message_id = m.id;

  perform parley_internal.audit_append(export_compliance_messages.organization_id, null, null,
    'conversation.compliance_export', 'public.messages', export_compliance_messages.conversation_id::text, null,
    pg_catalog.jsonb_build_object('conversation_id', export_compliance_messages.conversation_id,
                                  'sent_from', sent_from, 'sent_until', sent_until,
                                  'after_message_id', after_message_id, 'messages', exported,
                                  'last_message_id', last_id));
  return coalesce(lines, '');
end
$$;
comment on function parley_internal.export_compliance_messages(uuid, uuid, timestamptz, timestamptz, bigint, integer) is
  'Compliance mode, holders of chat.audit_read: the organization''s messages (or one conversation''s), optionally sent in [sent_from, sent_until), as JSON lines (one object per message, oldest first, with real_sender_id), at most page_size (1-10000) after after_message_id. Every export is audited (conversation.compliance_export).';
select parley_internal.publish_function(
  'parley_internal.export_compliance_messages(uuid, uuid, timestamptz, timestamptz, bigint, integer)'::regprocedure);
