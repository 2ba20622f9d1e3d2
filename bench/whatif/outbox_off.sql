-- What-if: the outbox triggers off (the send path without the outbox).
alter table public.messages disable trigger messages_outbox_insert;
alter table public.messages disable trigger messages_outbox_update;
alter table public.message_mentions disable trigger message_mentions_outbox;
