-- Read state and inbox additions (issue 4).
--
-- inbox_entries.joined_at_message_id
--   The message clock (the newest message id of the whole database) when the
--   member's inbox entry was created. Message ids are the only clock Parley
--   orders by, so the inbox sorts a conversation by
--   greatest(its newest message id, joined_at_message_id): a conversation
--   created or joined just now counts as recent activity even before its
--   first message, without any timestamp and without a write on send.
--   Read receipts also use it: a member who joined after a message was sent
--   is never listed as having seen or received it.
--
-- parley_internal.message_clock() is the column's default, so every way an
-- inbox entry is created (parley_internal.add_conversation_member,
-- service_role) sets it without knowing about it.

create or replace function parley_internal.message_clock()
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.pg_sequence_last_value('public.messages_id_seq'::pg_catalog.regclass), 0)
$$;
comment on function parley_internal.message_clock() is
  'The newest message id handed out so far in the whole database (0 before the first message): the message-id clock.';
select parley_internal.restrict_function('parley_internal.message_clock()', '{service_role}');

alter table public.inbox_entries
  add column if not exists joined_at_message_id bigint not null default parley_internal.message_clock()
    check (joined_at_message_id >= 0);
comment on column public.inbox_entries.joined_at_message_id is
  'The message-id clock when the member joined: the inbox orders the conversation as if it had a message with this id; receipts skip members who joined after a message.';
