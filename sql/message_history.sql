-- The row type of get_messages (functions/messages.sql): a message's columns
-- plus what a history page shows with it. A named type because the RPC's
-- argument conversation_id would clash with an OUT column of the same name
-- in RETURNS TABLE. Applied once (sql/ rule); a later change adds a new file
-- with alter type ... add attribute.

do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t
                 where t.typname = 'message_history_row' and t.typnamespace = 'public'::regnamespace) then
    create type public.message_history_row as (
      id bigint,
      conversation_id uuid,
      sender_kind text,
      sender_id uuid,
      persona_id uuid,
      kind text,
      body text,
      metadata jsonb,
      reply_to_message_id bigint,
      client_msg_id uuid,
      created_at timestamptz,
      edited_at timestamptz,
      deleted_at timestamptz,
      deleted_by uuid,
      pinned_at timestamptz,
      pinned_by uuid,
      reply_preview jsonb,
      reactions jsonb,
      has_more boolean
    );
  end if;
end
$$;
comment on type public.message_history_row is 'One row of get_messages: the message columns, reply_preview {id, sender_kind, sender_id, persona_id, kind, body (first 100 characters; null for a tombstone), deleted} or {id, hidden: true} when the replied-to message is before your history cut-off, reactions [{emoji, count, reacted_by_me}], and has_more (more messages exist beyond this page in its direction).';
