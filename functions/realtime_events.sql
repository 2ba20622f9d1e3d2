-- Realtime: broadcast from the database (issue 7).
--
-- Triggers on the chat tables call parley_internal.broadcast(payload, event,
-- topic, true) (functions/realtime_broadcast.sql): with parley.realtime_capture
-- = 'table' (Supabase) a row in realtime.messages, which Supabase Realtime
-- delivers; with 'wal' (the self-hosted stack) a transactional logical
-- decoding message and no row, which `parley realtime` reads from the WAL.
-- Either way the clients joined to that private topic get the same event.
-- The triggers are on the tables, so every write path (RPCs, service_role,
-- migrations) produces the same events.
-- Nothing here calls pg_notify.
--
-- Topics (authorized by policies/realtime.sql):
--   conversation:{id}  everyone who may read the conversation
--   user:{id}          that user only
--
-- Cost per write (docs/realtime.md, "Cost"): a send writes ONE row for the
-- conversation topic, plus one row per user member for direct (<= 2),
-- support (1) and notices (1) conversations, whose users need the message in
-- their inbox without joining the conversation. A group send never writes
-- per member: group members join conversation:{id} for the groups they show.
-- Delivered watermarks are broadcast only for direct, support and notices
-- conversations (in a group every member's device moves its watermark on
-- every message: n rows per message, n*n deliveries).
--
-- Payloads carry ids and what a client needs to update without refetching,
-- and nothing a reader of the topic may not see: never
-- parley_internal.message_senders (the staff user behind a persona message
-- or a notice), never who deleted or pinned a message, no body of an edited
-- message that some member may not read (since_joined history), no staff
-- user id anywhere a customer reads (issue 12: staff reactions carry
-- user_id null, support_updated carries no assignee).

-- Topics -----------------------------------------------------------------------

create or replace function parley_internal.realtime_topic_id(topic text, kind text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  -- Only "<kind>:<canonical uuid>" parses; anything else (malformed, other
  -- prefixes, extra text) is null, never an error.
  select case
    when realtime_topic_id.topic ~ ('^' || realtime_topic_id.kind
           || ':[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$')
      then pg_catalog.substr(realtime_topic_id.topic, pg_catalog.length(realtime_topic_id.kind) + 2)::uuid
  end
$$;
comment on function parley_internal.realtime_topic_id(text, text) is
  'The id in a realtime topic "<kind>:<uuid>" (kind conversation, user or call); null for any other text, never an error.';
select parley_internal.restrict_function('parley_internal.realtime_topic_id(text, text)', '{service_role}');

create or replace function parley_internal.realtime_can_receive(topic text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    case
      when realtime_can_receive.user_id is null then false
      -- Members; staff of the conversation only just after an audited read (message bodies are content).
      when realtime_can_receive.topic like 'conversation:%' then
        parley_internal.audited_visible_from(
          parley_internal.realtime_topic_id(realtime_can_receive.topic, 'conversation'), realtime_can_receive.user_id)
        is not null
      when realtime_can_receive.topic like 'user:%' then
        parley_internal.realtime_topic_id(realtime_can_receive.topic, 'user') = realtime_can_receive.user_id
      when realtime_can_receive.topic like 'call:%' then
        parley_internal.is_live_call_participant(
          parley_internal.realtime_topic_id(realtime_can_receive.topic, 'call'), realtime_can_receive.user_id)
    end, false)
$$;
comment on function parley_internal.realtime_can_receive(text, uuid) is
  'Realtime Authorization (receive): conversation:{id} for those who may read the conversation, user:{id} for that user, call:{id} for the call''s live participants; false for any other or malformed topic.';
select parley_internal.restrict_function('parley_internal.realtime_can_receive(text, uuid)', '{service_role}');

create or replace function parley_internal.realtime_can_send(topic text, extension text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(
    case
      when realtime_can_send.user_id is null then false
      -- Call signaling (offer, answer, ICE candidates) and presence: the call's live participants (issue 15).
      when realtime_can_send.topic like 'call:%' then
        realtime_can_send.extension in ('broadcast', 'presence')
        and parley_internal.is_live_call_participant(
              parley_internal.realtime_topic_id(realtime_can_send.topic, 'call'), realtime_can_send.user_id)
      when realtime_can_send.topic not like 'conversation:%' then false
      -- Client broadcasts (typing): those who may post.
      when realtime_can_send.extension = 'broadcast' then
        parley_internal.can_post_in_conversation(
          parley_internal.realtime_topic_id(realtime_can_send.topic, 'conversation'), realtime_can_send.user_id)
      -- Presence: roster members only (staff answering as a persona never show up as themselves).
      when realtime_can_send.extension = 'presence' then
        parley_internal.is_conversation_member(
          parley_internal.realtime_topic_id(realtime_can_send.topic, 'conversation'), realtime_can_send.user_id)
    end, false)
$$;
comment on function parley_internal.realtime_can_send(text, text, uuid) is
  'Realtime Authorization (send): on conversation:{id}, broadcasts (typing) by those who may post and presence by roster members; on call:{id}, the call''s live participants; nobody sends on user topics or malformed topics.';
select parley_internal.restrict_function('parley_internal.realtime_can_send(text, text, uuid)', '{service_role}');

create or replace function parley_internal.my_realtime_can_receive(topic text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.realtime_can_receive(my_realtime_can_receive.topic, (select auth.uid()))
$$;
comment on function parley_internal.my_realtime_can_receive(text) is
  'Policy helper (realtime.messages select): whether the current user may receive on the topic.';
select parley_internal.restrict_function('parley_internal.my_realtime_can_receive(text)', '{authenticated}');

create or replace function parley_internal.my_realtime_can_send(topic text, extension text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.realtime_can_send(my_realtime_can_send.topic, my_realtime_can_send.extension, (select auth.uid()))
$$;
comment on function parley_internal.my_realtime_can_send(text, text) is
  'Policy helper (realtime.messages insert): whether the current user may send on the topic (broadcast or presence).';
select parley_internal.restrict_function('parley_internal.my_realtime_can_send(text, text)', '{authenticated}');

-- Payloads ---------------------------------------------------------------------

create or replace function parley_internal.realtime_message_json(message public.messages)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  -- The message as its readers may see it: no deleted_by / pinned_by, and
  -- never the staff user behind a persona message (that is only in
  -- parley_internal.message_senders, which is not read here).
  select pg_catalog.jsonb_build_object(
    'id', message.id,
    'conversation_id', message.conversation_id,
    'sender_kind', message.sender_kind,
    'sender_id', message.sender_id,
    'persona_id', message.persona_id,
    'kind', message.kind,
    'body', message.body,
    'metadata', message.metadata,
    'reply_to_message_id', message.reply_to_message_id,
    'client_msg_id', message.client_msg_id,
    'created_at', message.created_at,
    'edited_at', message.edited_at,
    'deleted_at', message.deleted_at,
    'pinned_at', message.pinned_at)
$$;
comment on function parley_internal.realtime_message_json(public.messages) is
  'A message row as realtime payloads carry it (readers'' columns only; no deleted_by, pinned_by or real staff sender).';
select parley_internal.restrict_function('parley_internal.realtime_message_json(public.messages)', '{}');

create or replace function parley_internal.realtime_conversation_json(conversation public.conversations)
returns jsonb
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.jsonb_build_object(
    'id', conversation.id,
    'organization_id', conversation.organization_id,
    'kind', conversation.kind,
    'title', conversation.title,
    'description', conversation.description,
    'avatar_url', conversation.avatar_url,
    'subject_user_id', conversation.subject_user_id,
    'persona_id', conversation.persona_id,
    'posting_policy', conversation.posting_policy,
    'history_visibility', conversation.history_visibility,
    'slow_mode_seconds', conversation.slow_mode_seconds,
    'support_status', conversation.support_status,
    'support_assignee_id', conversation.support_assignee_id,
    'created_at', conversation.created_at,
    'updated_at', conversation.updated_at)
$$;
comment on function parley_internal.realtime_conversation_json(public.conversations) is
  'A conversation row as realtime payloads carry it (the columns its readers see, without the internal direct_key).';
select parley_internal.restrict_function('parley_internal.realtime_conversation_json(public.conversations)', '{}');

create or replace function parley_internal.realtime_unread_count(conversation_id uuid, user_id uuid, after_id bigint)
returns integer
language sql
stable
security definer
set search_path = ''
as $$
  -- The inbox's rule (parley_internal.unread_state, functions/read_state.sql) for one conversation:
  -- after the watermark and the member's history cut-off, not deleted, not sent by the member, not a
  -- system message about the member's own group change; at most 101 index entries of
  -- messages (conversation_id, id), so 101 means "more than 100".
  select pg_catalog.count(*)::integer from (
    select 1 from public.messages msg
    where msg.conversation_id = realtime_unread_count.conversation_id
      and msg.id > greatest(realtime_unread_count.after_id, coalesce((
            select m.visible_from_message_id from public.conversation_members m
            where m.conversation_id = realtime_unread_count.conversation_id
              and m.user_id = realtime_unread_count.user_id), 0))
      and msg.deleted_at is null
      and msg.sender_id is distinct from realtime_unread_count.user_id
      -- Senders the user blocked count nothing (functions/group_safety.sql), as in get_unread_counts.
      and (msg.sender_id is null
           or msg.sender_id <> all (coalesce((select parley_internal.blocked_user_ids(realtime_unread_count.user_id)),
                                             '{}')))
      and (msg.sender_kind <> 'system' or (msg.metadata ->> 'actor_id') is distinct from realtime_unread_count.user_id::text)
    limit 101) as unread
$$;
comment on function parley_internal.realtime_unread_count(uuid, uuid, bigint) is
  'Unread messages of a conversation for a user after a watermark, counted as the inbox counts them, up to 101 (more than 100).';
select parley_internal.restrict_function('parley_internal.realtime_unread_count(uuid, uuid, bigint)', '{}');

-- Messages ---------------------------------------------------------------------

create or replace function parley_internal.realtime_message_inserted()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  conversation_kind text;
  subject uuid;
  message_json jsonb := parley_internal.realtime_message_json(new);
  member uuid;
begin
  perform parley_internal.broadcast(pg_catalog.jsonb_build_object('message', message_json), 'message_created',
                                    'conversation:' || new.conversation_id, true);
  -- Inbox fan-out only where the user members are few by construction (see the header).
  select c.kind, c.subject_user_id into conversation_kind, subject
  from public.conversations c where c.id = new.conversation_id;
  if conversation_kind = 'direct' then
    for member in
      select m.user_id from public.conversation_members m where m.conversation_id = new.conversation_id
    loop
      perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id,
                                                                      'conversation_kind', conversation_kind,
                                                                      'message', message_json),
                                        'inbox_message', 'user:' || member, true);
    end loop;
  elsif conversation_kind in ('support', 'notices') and subject is not null then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id,
                                                                    'conversation_kind', conversation_kind,
                                                                    'message', message_json),
                                      case conversation_kind when 'notices' then 'notice_received' else 'inbox_message' end,
                                      'user:' || subject, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_message_inserted() is
  'Trigger: message_created on conversation:{id}; inbox_message (direct, support) or notice_received (notices) on the user topics of the conversation''s user members.';
select parley_internal.restrict_function('parley_internal.realtime_message_inserted()', '{}');

create or replace function parley_internal.realtime_message_updated()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  topic text := 'conversation:' || new.conversation_id;
  hidden_from_someone boolean;
begin
  if old.deleted_at is null and new.deleted_at is not null then
    -- Tombstone: which message, and when; no content.
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('message', pg_catalog.jsonb_build_object(
                                        'id', new.id, 'conversation_id', new.conversation_id, 'deleted_at', new.deleted_at)),
                                      'message_deleted', topic, true);
    return null;
  end if;
  if new.deleted_at is null
     and (old.body is distinct from new.body or old.metadata is distinct from new.metadata
          or old.edited_at is distinct from new.edited_at) then
    -- A member whose history starts after this message (since_joined) must not read its new body here.
    hidden_from_someone := exists (
      select 1 from public.conversation_members m
      where m.conversation_id = new.conversation_id and m.visible_from_message_id >= new.id);
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('message',
                                        case when hidden_from_someone then
                                          pg_catalog.jsonb_build_object('id', new.id, 'conversation_id', new.conversation_id,
                                                                        'edited_at', new.edited_at, 'body_omitted', true)
                                        else
                                          pg_catalog.jsonb_build_object('id', new.id, 'conversation_id', new.conversation_id,
                                                                        'body', new.body, 'metadata', new.metadata,
                                                                        'edited_at', new.edited_at)
                                        end),
                                      'message_edited', topic, true);
  end if;
  if old.pinned_at is distinct from new.pinned_at then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('message_id', new.id, 'conversation_id', new.conversation_id,
                                                                    'pinned_at', new.pinned_at),
                                      'message_pinned', topic, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_message_updated() is
  'Trigger: message_deleted (tombstone, no content), message_edited (new body, omitted when some member may not read the message) and message_pinned on conversation:{id}.';
select parley_internal.restrict_function('parley_internal.realtime_message_updated()', '{}');

create or replace function parley_internal.realtime_reaction_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  reaction public.message_reactions := case when tg_op = 'DELETE' then old else new end;
  conversation public.conversations;
  reactor uuid;
begin
  select c.* into conversation
  from public.messages m join public.conversations c on c.id = m.conversation_id
  where m.id = reaction.message_id and m.deleted_at is null;
  if not found then
    -- The message was deleted (message_deleted says its reactions are gone) or is being removed with its
    -- conversation: nothing to tell.
    return null;
  end if;
  -- Staff acting for the organization react with user_id null (the persona or Support; issue 12).
  reactor := reaction.user_id;
  perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                      'message_id', reaction.message_id, 'conversation_id', conversation.id,
                                      'emoji', reaction.emoji, 'user_id', reactor, 'staff', reactor is null,
                                      'persona_id', reaction.persona_id,
                                      'action', case when tg_op = 'DELETE' then 'removed' else 'added' end),
                                    'reaction_changed', 'conversation:' || conversation.id, true);
  return null;
end
$$;
comment on function parley_internal.realtime_reaction_changed() is
  'Trigger: reaction_changed (added or removed, by whom; staff unnamed in support and persona conversations) on conversation:{id}.';
select parley_internal.restrict_function('parley_internal.realtime_reaction_changed()', '{}');

-- Read state and inbox ---------------------------------------------------------

create or replace function parley_internal.realtime_inbox_entry_updated()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  topic text := 'conversation:' || new.conversation_id;
  conversation_kind text;
  unread integer;
begin
  if new.last_read_message_id > old.last_read_message_id
     and coalesce((select s.send_read_receipts from public.privacy_settings s where s.user_id = new.user_id), true) then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id, 'user_id', new.user_id,
                                                                    'last_read_message_id', new.last_read_message_id),
                                      'read', topic, true);
  end if;
  if new.last_delivered_message_id > old.last_delivered_message_id then
    select c.kind into conversation_kind from public.conversations c where c.id = new.conversation_id;
    if conversation_kind in ('direct', 'support', 'notices') then
      perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id,
                                                                      'user_id', new.user_id,
                                                                      'last_delivered_message_id', new.last_delivered_message_id),
                                        'delivered', topic, true);
    end if;
  end if;
  -- The member's own devices: unread badge and inbox flags.
  if new.last_read_message_id <> old.last_read_message_id then
    unread := parley_internal.realtime_unread_count(new.conversation_id, new.user_id, new.last_read_message_id);
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation_id', new.conversation_id,
                                        'last_read_message_id', new.last_read_message_id,
                                        'unread_count', least(unread, 100), 'unread_capped', unread > 100),
                                      'unread_changed', 'user:' || new.user_id, true);
  end if;
  if (old.archived_at_message_id, old.hidden_at_message_id, old.muted_until, old.pinned_at, old.notification_level)
     is distinct from
     (new.archived_at_message_id, new.hidden_at_message_id, new.muted_until, new.pinned_at, new.notification_level) then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation_id', new.conversation_id,
                                        'archived_at_message_id', new.archived_at_message_id,
                                        'hidden_at_message_id', new.hidden_at_message_id,
                                        'muted_until', new.muted_until, 'pinned_at', new.pinned_at,
                                        'notification_level', new.notification_level),
                                      'inbox_entry_updated', 'user:' || new.user_id, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_inbox_entry_updated() is
  'Trigger: read (unless the reader turned read receipts off) and delivered (direct, support, notices) on conversation:{id}; unread_changed and inbox_entry_updated on the member''s user:{id}.';
select parley_internal.restrict_function('parley_internal.realtime_inbox_entry_updated()', '{}');

-- Rosters ------------------------------------------------------------------------

create or replace function parley_internal.realtime_member_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  conversation public.conversations;
  actor uuid := auth.uid();
begin
  if tg_op = 'INSERT' then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id, 'user_id', new.user_id,
                                                                    'role', new.role, 'added_by', new.added_by,
                                                                    'joined_at', new.joined_at),
                                      'member_joined', 'conversation:' || new.conversation_id, true);
    select * into conversation from public.conversations c where c.id = new.conversation_id;
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation', parley_internal.realtime_conversation_json(conversation),
                                                                    'role', new.role, 'added_by', new.added_by),
                                      'conversation_added', 'user:' || new.user_id, true);
  elsif tg_op = 'UPDATE' then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', new.conversation_id, 'user_id', new.user_id,
                                                                    'role', new.role, 'previous_role', old.role),
                                      'member_role_changed', 'conversation:' || new.conversation_id, true);
  else
    if not exists (select 1 from public.conversations c where c.id = old.conversation_id) then
      -- The conversation itself is being deleted (conversation_deleted tells its topic).
      perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', old.conversation_id, 'reason', 'deleted'),
                                        'conversation_removed', 'user:' || old.user_id, true);
      return null;
    end if;
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation_id', old.conversation_id, 'user_id', old.user_id, 'role', old.role,
                                        'reason', case when actor is null or actor = old.user_id then 'left' else 'removed' end,
                                        'removed_by', case when actor is distinct from old.user_id then actor end),
                                      'member_left', 'conversation:' || old.conversation_id, true);
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation_id', old.conversation_id,
                                        'reason', case when actor is null or actor = old.user_id then 'left' else 'removed' end),
                                      'conversation_removed', 'user:' || old.user_id, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_member_changed() is
  'Trigger: member_joined, member_role_changed, member_left on conversation:{id}; conversation_added and conversation_removed on the member''s user:{id}.';
select parley_internal.restrict_function('parley_internal.realtime_member_changed()', '{}');

-- Conversations ------------------------------------------------------------------

create or replace function parley_internal.realtime_conversation_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  topic text;
begin
  if tg_op = 'DELETE' then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', old.id), 'conversation_deleted',
                                      'conversation:' || old.id, true);
    return null;
  end if;
  topic := 'conversation:' || new.id;
  if (old.title, old.description, old.avatar_url, old.posting_policy, old.history_visibility, old.slow_mode_seconds)
     is distinct from
     (new.title, new.description, new.avatar_url, new.posting_policy, new.history_visibility, new.slow_mode_seconds) then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation', parley_internal.realtime_conversation_json(new)),
                                      'conversation_updated', topic, true);
  end if;
  if old.support_status is distinct from new.support_status then
    -- The customer reads this topic: the status, never who changed it or who is assigned (issue 12).
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation_id', new.id, 'support_status', new.support_status,
                                        'previous_status', old.support_status),
                                      'support_updated', topic, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_conversation_changed() is
  'Trigger: conversation_updated, support_updated (status) and conversation_deleted on conversation:{id}. Assignment events come from parley_internal.support_assignments (functions/staff_privacy.sql).';
select parley_internal.restrict_function('parley_internal.realtime_conversation_changed()', '{}');

-- Triggers (AFTER, row level; WHEN clauses keep unrelated updates free) ------------

drop trigger if exists realtime_message_inserted on public.messages;
create trigger realtime_message_inserted after insert on public.messages
  for each row execute function parley_internal.realtime_message_inserted();

drop trigger if exists realtime_message_updated on public.messages;
create trigger realtime_message_updated after update on public.messages
  for each row
  when (old.deleted_at is distinct from new.deleted_at or old.body is distinct from new.body
        or old.metadata is distinct from new.metadata or old.edited_at is distinct from new.edited_at
        or old.pinned_at is distinct from new.pinned_at)
  execute function parley_internal.realtime_message_updated();

drop trigger if exists realtime_reaction_changed on public.message_reactions;
create trigger realtime_reaction_changed after insert or delete on public.message_reactions
  for each row execute function parley_internal.realtime_reaction_changed();

drop trigger if exists realtime_inbox_entry_updated on public.inbox_entries;
create trigger realtime_inbox_entry_updated after update on public.inbox_entries
  for each row
  when ((old.last_read_message_id, old.last_delivered_message_id, old.archived_at_message_id, old.hidden_at_message_id,
         old.muted_until, old.pinned_at, old.notification_level)
        is distinct from
        (new.last_read_message_id, new.last_delivered_message_id, new.archived_at_message_id, new.hidden_at_message_id,
         new.muted_until, new.pinned_at, new.notification_level))
  execute function parley_internal.realtime_inbox_entry_updated();

drop trigger if exists realtime_member_changed on public.conversation_members;
create trigger realtime_member_changed after insert or delete on public.conversation_members
  for each row execute function parley_internal.realtime_member_changed();

drop trigger if exists realtime_member_role_changed on public.conversation_members;
create trigger realtime_member_role_changed after update of role on public.conversation_members
  for each row when (old.role is distinct from new.role)
  execute function parley_internal.realtime_member_changed();

drop trigger if exists realtime_conversation_changed on public.conversations;
create trigger realtime_conversation_changed after update on public.conversations
  for each row
  when ((old.title, old.description, old.avatar_url, old.posting_policy, old.history_visibility, old.slow_mode_seconds,
         old.support_status, old.support_assignee_id)
        is distinct from
        (new.title, new.description, new.avatar_url, new.posting_policy, new.history_visibility, new.slow_mode_seconds,
         new.support_status, new.support_assignee_id))
  execute function parley_internal.realtime_conversation_changed();

drop trigger if exists realtime_conversation_deleted on public.conversations;
create trigger realtime_conversation_deleted after delete on public.conversations
  for each row execute function parley_internal.realtime_conversation_changed();
