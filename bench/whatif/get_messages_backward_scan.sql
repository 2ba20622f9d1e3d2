-- What-if: make bench BENCH_ARGS="--only 4 --apply bench/whatif/get_messages_backward_scan.sql"
-- get_messages' before_id / newest page returned straight from one backward keyset scan (limit size + 1),
-- instead of main's array_agg / unnest round trip of whole message rows; has_more from the extra row
-- (window count); same access check and columns (reply_preview, reactions). Backward path only.
create or replace function parley_internal.get_messages(
  conversation_id uuid, before_id bigint default null, after_id bigint default null,
  around_id bigint default null, since_id bigint default null, page_size integer default 50
)
returns setof public.message_history_row
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  size integer := coalesce(get_messages.page_size, 50);
  floor_id bigint;
begin
  if size not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 100.', 'Use 50.');
  end if;
  if get_messages.after_id is not null or get_messages.around_id is not null or get_messages.since_id is not null then
    raise exception 'what-if 3 implements the backward path only';
  end if;
  select m.visible_from_message_id into floor_id from public.conversation_members m
  where m.conversation_id = get_messages.conversation_id and m.user_id = caller;
  if floor_id is null then
    if not parley_internal.is_conversation_staff(get_messages.conversation_id, caller) then
      perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
        'Check the conversation id; you must be a member.');
    end if;
    floor_id := 0;
  end if;
  return query
    select c.id, c.conversation_id, c.sender_kind, c.sender_id, c.persona_id, c.kind, c.body, c.metadata,
           c.reply_to_message_id, c.client_msg_id, c.created_at, c.edited_at, c.deleted_at, c.deleted_by,
           c.pinned_at, c.pinned_by,
           case when c.reply_to_message_id is null then null
                when c.reply_to_message_id <= floor_id then
                  pg_catalog.jsonb_build_object('id', c.reply_to_message_id, 'hidden', true)
                else (select pg_catalog.jsonb_build_object('id', r.id, 'sender_kind', r.sender_kind,
                               'sender_id', r.sender_id, 'persona_id', r.persona_id, 'kind', r.kind,
                               'body', pg_catalog.left(r.body, 100), 'deleted', r.deleted_at is not null)
                      from public.messages r where r.id = c.reply_to_message_id) end,
           (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'emoji', s.emoji, 'count', s.reactions, 'reacted_by_me', s.mine) order by s.first_at, s.emoji),
                    '[]')
            from (select x.emoji, pg_catalog.count(*) as reactions, pg_catalog.bool_or(x.user_id = caller) as mine,
                         pg_catalog.min(x.created_at) as first_at
                  from public.message_reactions x where x.message_id = c.id group by x.emoji) s),
           c.more
    from (select m.*, pg_catalog.count(*) over () > size as more
          from (select * from public.messages m
                where m.conversation_id = get_messages.conversation_id and m.id > floor_id
                  and m.id < coalesce(get_messages.before_id, 9223372036854775807)
                order by m.id desc limit size + 1) m) c
    order by c.id desc
    limit size;
end
$$;
