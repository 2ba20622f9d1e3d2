-- What-if: a table outbox instead of WAL messages: the same event written as a row of an outbox table
-- (identity id; a gap-free cursor in commit order would cost more still: a counter row locked until commit).
alter table public.messages disable trigger messages_outbox_insert;
alter table public.messages disable trigger messages_outbox_update;
alter table public.message_mentions disable trigger message_mentions_outbox;
create table if not exists parley_internal.outbox_rows (
  id bigint generated always as identity primary key,
  created_at timestamptz not null default now(),
  event jsonb not null
);
create or replace function parley_internal.outbox_message_inserted_row()
returns trigger language plpgsql security definer set search_path = '' as $$
declare
  conversation record;
begin
  select c.organization_id, c.kind into conversation from public.conversations c where c.id = new.conversation_id;
  insert into parley_internal.outbox_rows (event) values (pg_catalog.jsonb_build_object(
    'type', 'message.created', 'organization_id', conversation.organization_id, 'conversation_id', new.conversation_id,
    'occurred_at', pg_catalog.now(), 'data', pg_catalog.jsonb_build_object(
      'message', parley_internal.realtime_message_json(new), 'conversation_kind', conversation.kind)));
  return null;
end $$;
create trigger messages_outbox_rows after insert on public.messages
  for each row execute function parley_internal.outbox_message_inserted_row();
