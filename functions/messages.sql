-- Messages (issue 4): the building blocks every message path shares:
-- readable_message (the row, PT404 exactly like a missing one), the real
-- sender behind a persona, authorship, the idempotent twin of a client id and
-- deliver_message (insert first, then limits; see functions/message_send.sql
-- for the send path's order). Validation: functions/message_validation.sql;
-- edits, deletes, reactions and pins: functions/message_changes.sql; history
-- pages: functions/message_history.sql.

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
