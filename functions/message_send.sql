-- Sending (issue 4) and the send-path limits (issue 5): send_message,
-- send_notice and post_system_message.
--
-- Send path, in this order:
--   1. input: body, kind, metadata, mention and attachment lists;
--   2. the conversation (PT404 if unreadable), plan, may post, persona,
--      blocks: one statement, parley_internal.send_authorization
--      (functions/send_authorization.sql); then body length, reply target,
--      mentioned members;
--   3. insert ... on conflict (client_msg_id) do nothing: on conflict (an
--      earlier or racing send with this key) return that message (same real
--      sender and conversation) or refuse client_msg_id_conflict, charging
--      nothing;
--   4. for a new message only: rate limit (token bucket), then slow mode, one
--      atomic statement each on the sender's own row of an UNLOGGED table
--      (functions/message_limits.sql); a refusal rolls the insert back;
--   5. message_senders, mentions, attachments, persona act.
-- A send never updates the conversations row and never calls pg_notify:
-- concurrent senders of one conversation share no row lock (see
-- docs/messages.md).

-- send_message ---------------------------------------------------------------

create or replace function parley_internal.send_message(
  conversation_id uuid,
  body text,
  kind text default 'text',
  client_msg_id uuid default null,
  reply_to_message_id bigint default null,
  metadata jsonb default '{}',
  mentioned_user_ids uuid[] default '{}',
  attachment_ids uuid[] default '{}',
  as_persona_id uuid default null
)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  message_kind text := coalesce(send_message.kind, 'text');
  clean_metadata jsonb := parley_internal.validate_message_metadata(send_message.metadata);
  mentions uuid[] := parley_internal.validate_id_list(send_message.mentioned_user_ids, 50, 'invalid_mentions',
                                                      'mentions', true);
  attachments uuid[] := parley_internal.validate_id_list(send_message.attachment_ids, 10, 'invalid_attachment_ids',
                                                         'attachments', false);
  access record;
  conversation public.conversations;
  max_length integer;
  clean_body text;
  reply_floor bigint;
  persona_organization uuid;
  is_member boolean;
  slow_mode_applies boolean;
  delivery record;
  sent public.messages;
begin
  -- 1. Input that needs no lookup.
  if message_kind not in ('text', 'image', 'file', 'audio', 'video', 'link') then
    perform parley_internal.refuse('P0001', 'invalid_kind',
      'A message kind is text, image, file, audio, video or link.',
      'system and notice messages are written by Parley itself (send_notice for staff notices); call messages by the call functions.');
  end if;
  if send_message.reply_to_message_id is not null and send_message.reply_to_message_id <= 0 then
    perform parley_internal.refuse('PT404', 'reply_not_found', 'The message you reply to does not exist.',
      'Reply to a message of this conversation you can see.');
  end if;

  -- 2. The conversation and the sender's rights in it: one statement (functions/send_authorization.sql), then
  -- the refusals in their documented order.
  select * into access from parley_internal.send_authorization(send_message.conversation_id, caller);
  if not access.readable then
    -- Outsiders cannot tell another organization's conversation from a missing one (readable_conversation).
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  conversation := access.conversation;
  is_member := access.is_member;
  if not access.has_chat then
    perform parley_internal.require_feature(conversation.organization_id, 'chat');
  end if;
  if not access.can_view then
    perform parley_internal.refuse('42501', 'no_permission',
      'Your role in this organization cannot view chats.', 'Ask an owner or admin for the chat.view permission.');
  end if;
  if not access.can_post then
    perform parley_internal.refuse('42501', 'cannot_post',
      case conversation.kind
        when 'notices' then 'Only staff post notices here.'
        else 'Only the group''s owner and admins post in this conversation.' end,
      'You can read this conversation but not post in it.');
  end if;
  if access.restricted then
    -- Bans and mutes (functions/moderation.sql): the probe found one; assert_not_restricted words the refusal.
    perform parley_internal.assert_not_restricted(conversation.organization_id, conversation.id, caller);
  end if;
  if send_message.as_persona_id is not null then
    persona_organization := parley_internal.assert_can_act_as_persona(send_message.as_persona_id, caller);
    if persona_organization <> conversation.organization_id
       or not (conversation.kind = 'support' or coalesce(conversation.persona_id = send_message.as_persona_id, false)) then
      perform parley_internal.refuse('P0001', 'persona_not_allowed',
        'Personas post only in support conversations and in their own direct conversations.',
        'Send without as_persona_id, or in a support conversation of the persona''s organization.');
    end if;
  elsif conversation.persona_id is not null and not is_member then
    -- Staff reach a persona's direct conversation through the persona, never as themselves.
    perform parley_internal.refuse('P0001', 'persona_required',
      'Staff answer a persona''s direct conversation as that persona.',
      'Pass as_persona_id: the conversation''s persona_id.');
  end if;
  if access.blocked then
    perform parley_internal.refuse('42501', 'blocked', 'You cannot send messages in this conversation.',
      'One of you has blocked the other.');
  end if;

  -- 3. Input checked against the conversation.
  -- Organizations created before organization_settings existed get their row now (organization_settings_of).
  max_length := coalesce(access.max_message_length,
                         (parley_internal.organization_settings_of(conversation.organization_id)).max_message_length);
  clean_body := parley_internal.validate_message_body(send_message.body, max_length,
    message_kind in ('image', 'file', 'audio', 'video') and pg_catalog.cardinality(attachments) > 0);
  if send_message.reply_to_message_id is not null then
    reply_floor := parley_internal.message_visible_from(conversation.id, caller);
    if not exists (select 1 from public.messages r
                   where r.id = send_message.reply_to_message_id and r.conversation_id = conversation.id
                     and r.id > reply_floor) then
      perform parley_internal.refuse('PT404', 'reply_not_found', 'The message you reply to does not exist.',
        'Reply to a message of this conversation you can see.');
    end if;
  end if;
  mentions := pg_catalog.array_remove(mentions, caller);
  if pg_catalog.cardinality(mentions) > 0 and (
       select pg_catalog.count(*) from public.conversation_members m
       where m.conversation_id = conversation.id and m.user_id = any (mentions)) < pg_catalog.cardinality(mentions) then
    perform parley_internal.refuse('P0001', 'mention_not_member', 'You can only mention members of the conversation.',
      'Remove the mentions of people who are not in this conversation.');
  end if;

  -- 4-5. Idempotency, limits, insert. Owners, admins and moderators skip slow mode; so does staff.
  slow_mode_applies := access.slow_mode_applies;
  -- Staff answering without being on the roster are shown as the persona or as Support, never as themselves
  -- (issue 12; functions/staff_privacy.sql).
  select * into delivery from parley_internal.deliver_message(
    conversation, caller,
    case when send_message.as_persona_id is not null then 'persona' when is_member then 'user' else 'support' end,
    send_message.as_persona_id, message_kind, clean_body, clean_metadata, send_message.reply_to_message_id,
    send_message.client_msg_id, slow_mode_applies);
  sent := delivery.message;
  if not delivery.created then
    return sent;
  end if;

  -- 6. What hangs off a new message.
  if pg_catalog.cardinality(mentions) > 0 then
    insert into public.message_mentions (user_id, conversation_id, message_id)
    select u, conversation.id, sent.id from pg_catalog.unnest(mentions) as u
    where not parley_internal.is_blocked_between(caller, u);  -- a blocker is never mentioned (group_safety.sql)
  end if;
  if pg_catalog.cardinality(attachments) > 0 then
    -- functions/attachments.sql: checks the uploads are the sender's, unclaimed and in this conversation's
    -- folder, and links them to the message (refusing rolls the whole send back).
    perform parley_internal.claim_attachments(sent.id, conversation.id, caller, attachments);
  end if;
  if send_message.as_persona_id is not null then
    perform parley_internal.record_persona_act(send_message.as_persona_id, caller, 'message.send', conversation.id);
  end if;
  return sent;
end
$$;
comment on function parley_internal.send_message(uuid, text, text, uuid, bigint, jsonb, uuid[], uuid[], uuid) is
  'Send a message (kind text, image, file, audio, video or link) to a conversation you may post in. client_msg_id makes retries idempotent; reply_to_message_id, mentioned_user_ids (members, up to 50), attachment_ids (your uploads, up to 10) and as_persona_id (support agents, in support and persona conversations) are optional. Rate limited per user (PT429 rate_limited) and by slow mode (PT429 slow_mode).';
select parley_internal.publish_function(
  'parley_internal.send_message(uuid, text, text, uuid, bigint, jsonb, uuid[], uuid[], uuid)'::regprocedure);

-- send_notice ----------------------------------------------------------------

create or replace function parley_internal.send_notice(
  organization_id uuid,
  user_id uuid,
  body text,
  style jsonb,
  client_msg_id uuid default null
)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  clean_style jsonb := parley_internal.validate_notice_style(send_notice.style);
  settings public.organization_settings;
  notices_id uuid;
  conversation public.conversations;
  delivery record;
begin
  if not parley_internal.is_organization_member(send_notice.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  perform parley_internal.require_feature(send_notice.organization_id, 'chat');
  if not parley_internal.has_permission(send_notice.organization_id, 'chat.send_notice', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only staff with chat.send_notice send notices.',
      'Ask an owner or admin for the chat.send_notice permission.');
  end if;
  if send_notice.user_id is null
     or not parley_internal.is_organization_member(send_notice.organization_id, send_notice.user_id) then
    perform parley_internal.refuse('PT404', 'user_not_found', 'No such member in this organization.',
      'Notices go to members of the organization.');
  end if;
  settings := parley_internal.organization_settings_of(send_notice.organization_id);
  perform parley_internal.validate_message_body(send_notice.body, settings.max_message_length, false);

  -- The same get-or-create as get_or_create_notices_conversation (functions/notices_conversations.sql).
  notices_id := parley_internal.subject_conversation_for(send_notice.organization_id, send_notice.user_id, 'notices');
  select * into conversation from public.conversations c where c.id = notices_id;
  select * into delivery from parley_internal.deliver_message(
    conversation, caller, 'system', null, 'notice', send_notice.body,
    pg_catalog.jsonb_build_object('style', clean_style), null, send_notice.client_msg_id, false);
  return delivery.message;
end
$$;
comment on function parley_internal.send_notice(uuid, uuid, text, jsonb, uuid) is
  'Staff with chat.send_notice: post a notice (kind notice, no sender shown) into a member''s notices conversation, created on first use. style: {background, text, border}, each #RGB or #RRGGBB. client_msg_id makes retries idempotent.';
select parley_internal.publish_function('parley_internal.send_notice(uuid, uuid, text, jsonb, uuid)'::regprocedure);

-- post_system_message (internal) ------------------------------------------

create or replace function parley_internal.post_system_message(conversation_id uuid, body text, metadata jsonb)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  posted public.messages;
begin
  if not exists (select 1 from public.conversations c where c.id = post_system_message.conversation_id) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id.');
  end if;
  insert into public.messages (conversation_id, sender_kind, kind, body, metadata)
  values (post_system_message.conversation_id, 'system', 'system',
          parley_internal.validate_message_body(post_system_message.body, 100000, false),
          parley_internal.validate_message_metadata(post_system_message.metadata))
  returning * into posted;
  return posted;
end
$$;
comment on function parley_internal.post_system_message(uuid, text, jsonb) is
  'Internal: post a system message ("Ann joined", kind system, no sender) into a conversation; no rate limit. metadata carries what clients need to render it, e.g. {"event": "member_added", "user_id": ...}.';
select parley_internal.restrict_function('parley_internal.post_system_message(uuid, text, jsonb)', '{}');
