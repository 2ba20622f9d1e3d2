-- Read state and inbox additions (issue 4).
--
-- inbox_entries.joined_at_message_id
--   A tick of the message-id clock taken when the member's inbox entry is
--   created: nextval of the messages id sequence, so it is greater than every
--   message id handed out before and unique (message ids already have gaps;
--   this adds one per join). Message ids are the only clock Parley orders by,
--   so the inbox sorts a conversation by
--   greatest(its newest message id, joined_at_message_id): a conversation
--   created or joined just now ranks as the newest activity even before its
--   first message, without timestamps, without ties and without a write on
--   send. Read receipts use it too: a member who joined after a message was
--   sent is never listed as having seen or received it.
--
-- parley_internal.message_clock_tick() is the column's default, so every
-- way an inbox entry is created (parley_internal.add_conversation_member,
-- service_role) sets it without knowing about it.

create or replace function parley_internal.message_clock_tick()
returns bigint
language sql
volatile
security definer
set search_path = ''
as $$
  select pg_catalog.nextval('public.messages_id_seq'::pg_catalog.regclass)
$$;
comment on function parley_internal.message_clock_tick() is
  'Take the next value of the message-id clock (the messages id sequence): greater than every message id handed out so far, never equal to one.';
select parley_internal.restrict_function('parley_internal.message_clock_tick()', '{service_role}');

alter table public.inbox_entries
  add column if not exists joined_at_message_id bigint not null default parley_internal.message_clock_tick()
    check (joined_at_message_id >= 0);
comment on column public.inbox_entries.joined_at_message_id is
  'Message-id clock tick taken when the member joined: the inbox orders the conversation as if it had a message with this id; receipts skip members who joined after a message.';
