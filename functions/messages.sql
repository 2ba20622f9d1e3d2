-- Messages (issue 4) and the send-path limits (issue 5): send, notices,
-- system messages, edit, delete, reactions, pins and history pages.
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

-- Validation --------------------------------------------------------------

create or replace function parley_internal.validate_message_body(body text, max_length integer, allow_empty boolean)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if body is null or body = '' then
    if allow_empty then
      return '';
    end if;
    perform parley_internal.refuse('P0001', 'empty_body', 'A message needs some text.',
      'Type a message, or attach a file to send an image, file, audio or video without a caption.');
  end if;
  if pg_catalog.length(body) > max_length then
    perform parley_internal.refuse('P0001', 'body_too_long',
      pg_catalog.format('A message has at most %s characters.', max_length),
      'Shorten the message or split it into several.');
  end if;
  -- Control characters except tab (\u0009) and newline (\u000a); NUL cannot reach a text value at all.
  if body ~ '[\u0001-\u0008\u000b-\u001f\u007f-\u009f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'A message cannot contain control characters.',
      'Only tabs and line feeds (\n) are allowed; remove carriage returns and other control characters.');
  end if;
  if not allow_empty and body ~ '^[[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$' then
    perform parley_internal.refuse('P0001', 'empty_body', 'A message needs some text, not only spaces.',
      'Type a message.');
  end if;
  return body;
end
$$;
comment on function parley_internal.validate_message_body(text, integer, boolean) is
  'Refuse a message body that is empty or only whitespace (unless allow_empty: an attachment without caption), longer than max_length, or contains control characters other than tab and newline; returns the body ('''' for an allowed empty one).';
select parley_internal.restrict_function('parley_internal.validate_message_body(text, integer, boolean)', '{}');

create or replace function parley_internal.validate_message_metadata(metadata jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if metadata is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(metadata) <> 'object' then
    perform parley_internal.refuse('P0001', 'invalid_metadata', 'metadata is a JSON object.',
      'Pass {} or an object such as {"link": {"url": "https://..."}}.');
  end if;
  if pg_catalog.octet_length(metadata::text) > 8192 then
    perform parley_internal.refuse('P0001', 'metadata_too_large', 'metadata is at most 8 KiB of JSON.',
      'Keep large data in attachments; metadata is for small kind-specific details.');
  end if;
  -- Depth: the object is level 0; nothing may sit at level 6 or deeper.
  if pg_catalog.jsonb_path_exists(metadata, 'strict $.**{6}') then
    perform parley_internal.refuse('P0001', 'metadata_too_deep', 'metadata nests at most 5 levels deep.',
      'Flatten the object.');
  end if;
  return metadata;
end
$$;
comment on function parley_internal.validate_message_metadata(jsonb) is
  'Refuse message metadata that is not a JSON object, over 8 KiB, or nested more than 5 levels; null becomes {}.';
select parley_internal.restrict_function('parley_internal.validate_message_metadata(jsonb)', '{}');

create or replace function parley_internal.validate_id_list(
  ids uuid[], cap integer, reason text, what text, deduplicate boolean
)
returns uuid[]
language plpgsql
immutable
set search_path = ''
as $$
declare
  unique_ids uuid[];
begin
  if ids is null then
    return '{}'::uuid[];
  end if;
  -- Shape and length before any work on the elements (issue 20): [[id]] and huge lists are refused at once.
  perform parley_internal.require_flat_id_list(ids, reason, 'The ' || what || ' list');
  if pg_catalog.cardinality(ids) > cap then
    perform parley_internal.refuse('P0001', 'too_many_' || what,
      pg_catalog.format('A message has at most %s %s.', cap, what), 'Send fewer.');
  end if;
  if pg_catalog.array_position(ids, null) is not null then
    perform parley_internal.refuse('P0001', reason, pg_catalog.format('The %s list contains null.', what),
      'Pass only ids.');
  end if;
  -- First occurrences, in the caller's order (attachments keep their order as positions).
  select coalesce(pg_catalog.array_agg(f.i order by f.first_at), '{}') into unique_ids
  from (select u.i, pg_catalog.min(u.n) as first_at from pg_catalog.unnest(ids) with ordinality as u(i, n)
        group by u.i) f;
  if not deduplicate and pg_catalog.cardinality(unique_ids) <> pg_catalog.cardinality(ids) then
    perform parley_internal.refuse('P0001', reason, pg_catalog.format('The %s list repeats an id.', what),
      'Pass each id once.');
  end if;
  if pg_catalog.cardinality(unique_ids) > cap then
    perform parley_internal.refuse('P0001', 'too_many_' || what,
      pg_catalog.format('A message has at most %s %s.', cap, what), 'Send fewer.');
  end if;
  return unique_ids;
end
$$;
comment on function parley_internal.validate_id_list(uuid[], integer, text, text, boolean) is
  'Check an id list (null becomes empty): refuse (reason) if it is not one-dimensional or contains null, or repeats an id unless deduplicate (then the first occurrences are kept, in order), and too_many_<what> if longer than cap (checked first, duplicates included).';
select parley_internal.restrict_function('parley_internal.validate_id_list(uuid[], integer, text, text, boolean)', '{}');

create or replace function parley_internal.validate_emoji(emoji text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- One emoji sequence (no ASCII except a keycap's leading 0-9, # or *), or a :shortcode:.
  if emoji is null or pg_catalog.length(emoji) not between 1 and 32
     or emoji !~ '^(:[a-z0-9_+-]{1,30}:|[0-9#*]?[^\u0001-\u007f]+)$'
     or emoji ~ '[[:space:][:cntrl:]\u0080-\u00a0\u2000-\u200a\u2028\u2029\u3000]'
     -- Only joiners, variation selectors or other invisible format characters: nothing to show (issue 20).
     or emoji ~ '^[\u200b-\u200f\u2060-\u2064\ufe00-\ufe0f\ufeff\U000e0000-\U000e007f]+$' then
    perform parley_internal.refuse('P0001', 'invalid_emoji', 'That is not an emoji.',
      'Pass one emoji (up to 32 characters, e.g. a flag or a skin-tone sequence) or a :shortcode:.');
  end if;
  return emoji;
end
$$;
comment on function parley_internal.validate_emoji(text) is
  'Refuse a reaction that is not one emoji sequence (up to 32 characters, no ASCII letters or spaces) or a :shortcode:.';
select parley_internal.restrict_function('parley_internal.validate_emoji(text)', '{}');

create or replace function parley_internal.validate_notice_style(style jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if style is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(style) <> 'object'
     or exists (select 1 from pg_catalog.jsonb_each(style) e
                where e.key not in ('background', 'text', 'border')
                   or pg_catalog.jsonb_typeof(e.value) <> 'string'
                   or (e.value #>> '{}') !~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$') then
    perform parley_internal.refuse('P0001', 'invalid_style',
      'A notice style has only background, text and border, each a #RGB or #RRGGBB colour.',
      'For example {"background": "#fff3cd", "text": "#664d03", "border": "#ffecb5"}.');
  end if;
  return style;
end
$$;
comment on function parley_internal.validate_notice_style(jsonb) is
  'Refuse a notice style other than an object with optional background, text and border hex colours (#RGB or #RRGGBB); null becomes {}.';
select parley_internal.restrict_function('parley_internal.validate_notice_style(jsonb)', '{}');

-- Building blocks ----------------------------------------------------------

create or replace function parley_internal.readable_message(message_id bigint, user_id uuid, lock_mode text)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  found_row public.messages;
begin
  select * into found_row from public.messages m where m.id = readable_message.message_id;
  if not found or (found_row.id > parley_internal.message_visible_from(found_row.conversation_id,
                                                                       readable_message.user_id)) is not true then
    perform parley_internal.refuse('PT404', 'message_not_found', 'No such message.',
      'Check the message id; you must be able to read its conversation.');
  end if;
  -- Only readers lock. Locking waits for a concurrent edit or delete to commit and returns the latest version
  -- (its conversation and id never change, so the check above still holds).
  if lock_mode = 'share' then
    select * into found_row from public.messages m where m.id = readable_message.message_id for share;
  elsif lock_mode = 'update' then
    select * into found_row from public.messages m where m.id = readable_message.message_id for no key update;
  end if;
  return found_row;
end
$$;
comment on function parley_internal.readable_message(bigint, uuid, text) is
  'The message if the user may read it (locked FOR SHARE or FOR NO KEY UPDATE when lock_mode says so); otherwise refuse with PT404 message_not_found.';
select parley_internal.restrict_function('parley_internal.readable_message(bigint, uuid, text)', '{}');

create or replace function parley_internal.real_sender_of(message public.messages)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(message.sender_id,
                  (select s.sender_id from parley_internal.message_senders s where s.message_id = message.id))
$$;
comment on function parley_internal.real_sender_of(public.messages) is
  'The user who really sent the message: sender_id, or for persona messages and notices the staff user in message_senders.';
select parley_internal.restrict_function('parley_internal.real_sender_of(public.messages)', '{}');

create or replace function parley_internal.is_message_author(message public.messages, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select case message.sender_kind
    when 'user' then message.sender_id = is_message_author.user_id
    -- Persona messages belong to the persona: any support agent who may act as it (active, same organization).
    when 'persona' then exists (
      select 1 from public.personas p
      where p.id = message.persona_id and p.is_active
        and parley_internal.has_permission(p.organization_id, 'chat.support_agent', is_message_author.user_id))
    -- Support replies belong to the organization's support team (issue 12: shown as Support).
    when 'support' then exists (
      select 1 from public.conversations c
      where c.id = message.conversation_id
        and parley_internal.has_permission(c.organization_id, 'chat.support_agent', is_message_author.user_id))
    -- Notices: the staff user who sent them. Other system messages have no author.
    else message.kind = 'notice' and exists (
      select 1 from parley_internal.message_senders s
      where s.message_id = message.id and s.sender_id = is_message_author.user_id)
  end
$$;
comment on function parley_internal.is_message_author(public.messages, uuid) is
  'Whether the user authored the message: its user sender, a support agent who may act as its persona, a support agent of the organization for a Support reply, or the staff sender of a notice.';
select parley_internal.restrict_function('parley_internal.is_message_author(public.messages, uuid)', '{}');

create or replace function parley_internal.idempotent_twin(client_msg_id uuid, real_sender uuid, conversation_id uuid)
returns public.messages
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  twin public.messages;
begin
  select * into twin from public.messages m where m.client_msg_id = idempotent_twin.client_msg_id;
  if not found then
    return null;
  end if;
  if twin.conversation_id <> idempotent_twin.conversation_id
     or parley_internal.real_sender_of(twin) is distinct from idempotent_twin.real_sender then
    perform parley_internal.refuse('PT409', 'client_msg_id_conflict',
      'This client_msg_id belongs to another message.',
      'Generate a new uuid for every new message; reuse it only to retry the same send.');
  end if;
  return twin;
end
$$;
comment on function parley_internal.idempotent_twin(uuid, uuid, uuid) is
  'The message already sent with this client_msg_id by the same real sender in the same conversation (null if none); refuse PT409 client_msg_id_conflict if someone else or another conversation used it.';
select parley_internal.restrict_function('parley_internal.idempotent_twin(uuid, uuid, uuid)', '{}');

create or replace function parley_internal.deliver_message(
  conversation public.conversations,
  real_sender uuid,
  sender_kind text,
  persona_id uuid,
  kind text,
  body text,
  metadata jsonb,
  reply_to_message_id bigint,
  client_msg_id uuid,
  slow_mode_applies boolean,
  out message public.messages,
  out created boolean
)
language plpgsql
volatile
security definer
set search_path = ''
as $$
#variable_conflict use_column
declare
  wait_seconds integer;
begin
  -- Insert first: the unique index on client_msg_id is the idempotency check. A conflict (an earlier send
  -- with this key, or a concurrent one that committed first: the index made this insert wait for it) is the
  -- only case that looks the twin up; a new message never probes.
  insert into public.messages as m (conversation_id, sender_kind, sender_id, persona_id, kind, body, metadata,
                                    reply_to_message_id, client_msg_id, search_language)
  values (conversation.id, deliver_message.sender_kind,
          case when deliver_message.sender_kind = 'user' then real_sender end,
          deliver_message.persona_id, deliver_message.kind, deliver_message.body, deliver_message.metadata,
          deliver_message.reply_to_message_id, deliver_message.client_msg_id,
          -- The organization's stemming language for search (sql/message_search.sql); simple is stored as null.
          (select nullif(s.search_language, 'simple') from public.organization_settings s
           where s.organization_id = conversation.organization_id))
  on conflict (client_msg_id) where client_msg_id is not null do nothing
  returning * into message;
  if not found then
    -- A retry: return the original (charging nothing, even when the sender is out of allowance), or refuse
    -- PT409 if the key is someone else's or another conversation's.
    message := parley_internal.idempotent_twin(deliver_message.client_msg_id, real_sender, conversation.id);
    created := false;
    return;
  end if;
  created := true;

  -- Limits are charged for new messages only. A refusal raises, which rolls the insert back with it.
  wait_seconds := parley_internal.take_send_token(conversation.organization_id, real_sender);
  if wait_seconds > 0 then
    perform parley_internal.refuse_rate_limit('rate_limited', wait_seconds);
  end if;
  if slow_mode_applies and conversation.slow_mode_seconds > 0 then
    wait_seconds := parley_internal.take_slow_mode_turn(conversation.id, real_sender, conversation.slow_mode_seconds);
    if wait_seconds > 0 then
      perform parley_internal.refuse_rate_limit('slow_mode', wait_seconds);
    end if;
  end if;

  if conversation.archived_by_organization then
    -- Compliance mode: every send is in the audit chain (functions/compliance.sql).
    perform parley_internal.audit_compliance_send(message, conversation.organization_id);
  end if;
  if deliver_message.sender_kind <> 'user' then
    insert into parley_internal.message_senders (message_id, sender_id, persona_id)
    values (message.id, real_sender, deliver_message.persona_id);
  end if;
end
$$;
comment on function parley_internal.deliver_message(public.conversations, uuid, text, uuid, text, text, jsonb, bigint, uuid, boolean) is
  'The common end of send_message and send_notice, after validation and authorization: insert ... on conflict (client_msg_id) do nothing; on conflict the idempotent twin (or PT409); for a new row the rate limit and slow mode (a refusal rolls the insert back), then message_senders for persona and system senders. created is false when an earlier send with the same client_msg_id is returned.';
select parley_internal.restrict_function(
  'parley_internal.deliver_message(public.conversations, uuid, text, uuid, text, text, jsonb, bigint, uuid, boolean)', '{}');

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

-- edit_message / delete_message ---------------------------------------------

create or replace function parley_internal.edit_message(message_id bigint, body text)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  original public.messages;
  organization uuid;
  settings public.organization_settings;
  clean_body text;
  edited public.messages;
begin
  original := parley_internal.readable_message(edit_message.message_id, caller, 'update');
  select c.organization_id into organization from public.conversations c where c.id = original.conversation_id;
  perform parley_internal.require_feature(organization, 'chat');
  if original.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.', 'Deleted messages stay deleted.');
  end if;
  if not parley_internal.is_message_author(original, caller) then
    perform parley_internal.refuse('42501', 'not_author', 'Only the author edits a message.',
      'Persona messages: support agents who may act as the persona.');
  end if;
  -- A banned or muted author cannot rewrite what they said either (docs/moderation.md).
  perform parley_internal.assert_not_restricted(organization, original.conversation_id, caller);
  settings := parley_internal.organization_settings_of(organization);
  if settings.edit_window_seconds is not null
     and pg_catalog.now() > original.created_at + pg_catalog.make_interval(secs => settings.edit_window_seconds) then
    perform parley_internal.refuse('PT409', 'edit_window_closed',
      pg_catalog.format('Messages can be edited for %s seconds after sending.', settings.edit_window_seconds),
      'Send a new message instead.');
  end if;
  clean_body := parley_internal.validate_message_body(edit_message.body, settings.max_message_length, false);
  if clean_body = original.body then
    -- Retrying an edit changes nothing and records nothing.
    return original;
  end if;
  insert into public.message_edits (message_id, edited_by, previous_body, previous_metadata)
  values (original.id, parley_internal.visible_actor(original.conversation_id, caller), original.body, original.metadata);
  update public.messages m set body = clean_body, edited_at = pg_catalog.now()
  where m.id = original.id
  returning * into edited;
  return edited;
end
$$;
comment on function parley_internal.edit_message(bigint, text) is
  'Edit your message''s body (persona messages: support agents who may act as the persona), within the organization''s edit window; refused (403 banned or muted) while you are restricted there. The previous body goes into message_edits; mentions are not re-read.';
select parley_internal.publish_function('parley_internal.edit_message(bigint, text)'::regprocedure);

create or replace function parley_internal.delete_message(message_id bigint)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  original public.messages;
  deleted public.messages;
begin
  original := parley_internal.readable_message(delete_message.message_id, caller, 'update');
  if original.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'already_deleted', 'This message is already deleted.',
      'Nothing to do.');
  end if;
  if not parley_internal.is_message_author(original, caller)
     and not parley_internal.is_conversation_moderator(original.conversation_id, caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only the author or a moderator deletes a message.',
      'Moderators: group owners and admins, staff with chat.delete or chat.moderate.');
  end if;
  update public.messages m
  set body = null, metadata = '{}', deleted_at = pg_catalog.now(),
      deleted_by = parley_internal.visible_actor(original.conversation_id, caller), pinned_at = null,
      pinned_by = null
  where m.id = original.id
  returning * into deleted;
  -- A tombstone keeps its place (id, sender, replies point at it) but no content.
  delete from public.message_edits e where e.message_id = original.id;
  delete from public.message_reactions r where r.message_id = original.id;
  delete from public.message_mentions mm where mm.message_id = original.id;
  return deleted;
end
$$;
comment on function parley_internal.delete_message(bigint) is
  'Delete a message for everyone (author, or moderator: group owner/admin, chat.delete, chat.moderate): it stays as a tombstone (body null) and loses its edit history, reactions, mentions and pin.';
select parley_internal.publish_function('parley_internal.delete_message(bigint)'::regprocedure);

-- Reactions -----------------------------------------------------------------

create or replace function parley_internal.reaction_summary(message_id bigint, viewer uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'emoji', s.emoji, 'count', s.reactions, 'reacted_by_me', s.mine) order by s.first_at, s.emoji), '[]')
  from (select r.emoji, pg_catalog.count(*) as reactions,
               pg_catalog.bool_or(r.user_id is not distinct from reaction_summary.viewer) as mine,
               pg_catalog.min(r.created_at) as first_at
        from public.message_reactions r where r.message_id = reaction_summary.message_id
          and (r.user_id is null
               or r.user_id <> all (coalesce((select parley_internal.blocked_user_ids(reaction_summary.viewer)), '{}')))
        group by r.emoji) s
$$;
comment on function parley_internal.reaction_summary(bigint, uuid) is
  'A message''s reactions as [{emoji, count, reacted_by_me}], in the order each emoji first appeared; viewer is the reacting identity (the user, or null for staff acting as the organization).';
select parley_internal.restrict_function('parley_internal.reaction_summary(bigint, uuid)', '{}');

create or replace function parley_internal.toggle_reaction(message_id bigint, emoji text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  clean_emoji text := parley_internal.validate_emoji(toggle_reaction.emoji);
  target public.messages;
  organization uuid;
  actor uuid;
begin
  -- FOR SHARE: waits for a concurrent delete, so no reaction outlives its message's content.
  target := parley_internal.readable_message(toggle_reaction.message_id, caller, 'share');
  select c.organization_id into organization from public.conversations c where c.id = target.conversation_id;
  perform parley_internal.require_feature(organization, 'chat');
  if target.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.',
      'Deleted messages take no reactions.');
  end if;
  -- Staff off the roster react as the organization (user_id null: the persona or Support; issue 12).
  actor := parley_internal.visible_actor(target.conversation_id, caller);
  delete from public.message_reactions r
  where r.message_id = target.id and r.emoji = clean_emoji and r.user_id is not distinct from actor;
  if not found then
    -- Adding a reaction is speaking: a banned or muted user may only take theirs back (docs/moderation.md).
    perform parley_internal.assert_not_restricted(organization, target.conversation_id, caller);
    if (select pg_catalog.count(*) from public.message_reactions r
        where r.message_id = target.id and r.user_id is not distinct from actor) >= 20 then
      perform parley_internal.refuse('PT409', 'too_many_reactions', 'You have 20 reactions on this message already.',
        'Remove one first.');
    end if;
    insert into public.message_reactions (message_id, emoji, user_id, persona_id)
    values (target.id, clean_emoji, actor,
            case when actor is null then (select c.persona_id from public.conversations c
                                          where c.id = target.conversation_id) end)
    on conflict on constraint message_reactions_key do nothing;
  end if;
  return parley_internal.reaction_summary(target.id, actor);
end
$$;
comment on function parley_internal.toggle_reaction(bigint, text) is
  'Add your reaction (one emoji or :shortcode:) to a message you can read, or remove it if you had it (a banned or muted user may only remove: 403 banned or muted); returns the message''s reactions [{emoji, count, reacted_by_me}].';
select parley_internal.publish_function('parley_internal.toggle_reaction(bigint, text)'::regprocedure);

-- Pins ------------------------------------------------------------------------

create or replace function parley_internal.pin_message(message_id bigint, pinned boolean default true)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  target public.messages;
  conversation public.conversations;
  changed public.messages;
begin
  if pin_message.pinned is null then
    perform parley_internal.refuse('P0001', 'invalid_pinned', 'pinned is true or false.', 'Pass false to unpin.');
  end if;
  target := parley_internal.readable_message(pin_message.message_id, caller, 'update');
  select * into conversation from public.conversations c where c.id = target.conversation_id;
  perform parley_internal.require_feature(conversation.organization_id, 'chat');
  if not parley_internal.is_conversation_moderator(conversation.id, caller)
     and not (conversation.kind in ('direct', 'support')
              and parley_internal.can_read_conversation(conversation.id, caller)) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only moderators pin messages here.',
      'In direct and support conversations every member may pin; in groups owners and admins.');
  end if;
  if pin_message.pinned and target.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.',
      'Deleted messages cannot be pinned.');
  end if;
  if pin_message.pinned and target.pinned_at is null
     and (select pg_catalog.count(*) from (select 1 from public.messages p
                                           where p.conversation_id = conversation.id and p.pinned_at is not null
                                           limit 50) as pins) >= 50 then
    perform parley_internal.refuse('PT409', 'too_many_pins', 'A conversation has at most 50 pinned messages.',
      'Unpin one first.');
  end if;
  update public.messages m
  set pinned_at = case when pin_message.pinned then coalesce(m.pinned_at, pg_catalog.now()) end,
      pinned_by = case when not pin_message.pinned then null
                       when m.pinned_at is null then parley_internal.visible_actor(conversation.id, caller)
                       else m.pinned_by end
  where m.id = target.id
  returning * into changed;
  return changed;
end
$$;
comment on function parley_internal.pin_message(bigint, boolean) is
  'Pin (or with pinned false, unpin) a message: moderators anywhere, any member in direct and support conversations. Idempotent; at most 50 pins per conversation.';
select parley_internal.publish_function('parley_internal.pin_message(bigint, boolean)'::regprocedure);

create or replace function parley_internal.get_pinned_messages(conversation_id uuid)
returns setof public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  floor_id bigint := parley_internal.message_visible_from(get_pinned_messages.conversation_id, caller);
begin
  if floor_id is null then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  -- Staff reading a conversation they are not a member of leave an audit trace (no-op for members).
  perform parley_internal.audit_staff_read(get_pinned_messages.conversation_id);
  return query
    select m.* from public.messages m
    where m.conversation_id = get_pinned_messages.conversation_id and m.pinned_at is not null and m.id > floor_id
      and (m.sender_id is null  -- senders the caller blocked are hidden (group_safety.sql)
           or m.sender_id <> all (coalesce((select parley_internal.blocked_user_ids(caller)), '{}')))
    order by m.id desc
    limit 50;
end
$$;
comment on function parley_internal.get_pinned_messages(uuid) is
  'The conversation''s pinned messages you can see, newest first (at most 50).';
select parley_internal.publish_function('parley_internal.get_pinned_messages(uuid)'::regprocedure);
