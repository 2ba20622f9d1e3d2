-- History pages (issue 4; moved out of functions/messages.sql in issue 13):
-- get_messages, a keyset page of a conversation's messages with reply
-- previews and reactions.
--
-- One access check (the visibility rule, parley_internal.visible_from), then
-- one statement that returns the keyset scan directly: each direction is one
-- index scan of messages (conversation_id, id) reading one row more than it
-- keeps (has_more), gated by the cursor so only the requested direction runs
-- (a one-time filter in the cached plan); no array round trip of whole rows.

create or replace function parley_internal.get_messages(
  conversation_id uuid,
  before_id bigint default null,
  after_id bigint default null,
  around_id bigint default null,
  since_id bigint default null,
  page_size integer default 50
)
returns setof public.message_history_row
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  me uuid := caller;  -- the reacting identity: null for staff, who react as the organization
  size integer := coalesce(get_messages.page_size, 50);
  hidden_senders uuid[] := parley_internal.blocked_user_ids(caller);  -- senders the caller blocked (group_safety.sql)
  member_floor bigint;
  floor_id bigint;
  direction text;  -- back (newest first), forward (oldest first) or around (oldest first)
  half integer;
begin
  if size not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 100.', 'Use 50.');
  end if;
  if (get_messages.before_id is not null)::integer + (get_messages.after_id is not null)::integer
     + (get_messages.around_id is not null)::integer + (get_messages.since_id is not null)::integer > 1 then
    perform parley_internal.refuse('P0001', 'invalid_cursor',
      'Pass at most one of before_id, after_id, around_id and since_id.',
      'before_id pages back, after_id and since_id forward, around_id jumps to a message.');
  end if;
  if least(get_messages.before_id, get_messages.after_id, get_messages.around_id, get_messages.since_id) < 0 then
    perform parley_internal.refuse('P0001', 'invalid_cursor', 'Message ids are not negative.',
      'Pass the id of a message.');
  end if;

  -- The one access check: the visibility rule (members from their cut-off with chat.view, staff of the
  -- conversation's kind all of it), then compliance readers (functions/compliance.sql).
  select m.visible_from_message_id into member_floor from public.conversation_members m
  where m.conversation_id = get_messages.conversation_id and m.user_id = caller;
  floor_id := parley_internal.visible_from(member_floor, get_messages.conversation_id, caller);
  if floor_id is null and member_floor is not null then
    perform parley_internal.refuse('42501', 'no_permission',
      'Your role in this organization cannot view chats.', 'Ask an owner or admin for the chat.view permission.');
  end if;
  if floor_id is null then
    if not parley_internal.is_compliance_reader(get_messages.conversation_id, caller) then
      perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
        'Check the conversation id; you must be a member.');
    end if;
    floor_id := 0;
  end if;
  if member_floor is null then
    me := null;
    -- Staff reading a conversation they are not a member of (support, persona, notices): audited (seed 002).
    perform parley_internal.audit_staff_read(get_messages.conversation_id);
  end if;

  direction := case when get_messages.after_id is not null or get_messages.since_id is not null then 'forward'
                    when get_messages.around_id is not null then 'around'
                    else 'back' end;
  -- around: the older half ends with around_id itself, the newer half follows it.
  half := (size + 1) / 2;

  -- Each scan reads at most cap + 1 rows (count(*) over () counts them) and keeps the first cap in scan order;
  -- more than cap read means more lie beyond the page. Ordering by (conversation_id, id) rather than id alone
  -- pins the plan to that index even when a cached generic plan cannot see how few rows the conversation has
  -- (a backward primary key scan filtering on conversation_id would read the whole table for a small, old
  -- conversation). The reply preview and reactions below are written twice, once per statement.
  if direction = 'back' then
    -- Backward, newest first: the latest page, or older pages before before_id (the hot path: one scan,
    -- returned as it comes).
    return query
      select p.id, p.conversation_id, p.sender_kind, p.sender_id, p.persona_id, p.kind, p.body, p.metadata,
             p.reply_to_message_id, p.client_msg_id, p.created_at, p.edited_at, p.deleted_at, p.deleted_by,
             p.pinned_at, p.pinned_by,
             case when p.reply_to_message_id is null then null
                  when p.reply_to_message_id <= floor_id then
                    pg_catalog.jsonb_build_object('id', p.reply_to_message_id, 'hidden', true)
                  -- Read only for replies (no probe per row); a reply to a sender the caller blocked is hidden too.
                  else (select case when r.sender_id = any (hidden_senders) then
                                      pg_catalog.jsonb_build_object('id', p.reply_to_message_id, 'hidden', true)
                                    else pg_catalog.jsonb_build_object('id', r.id, 'sender_kind', r.sender_kind,
                                           'sender_id', r.sender_id, 'persona_id', r.persona_id, 'kind', r.kind,
                                           'body', pg_catalog.left(r.body, 100),
                                           'deleted', r.deleted_at is not null) end
                        from (select) as one left join public.messages r on r.id = p.reply_to_message_id) end,
             (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                        'emoji', g.emoji, 'count', g.reactions, 'reacted_by_me', g.mine) order by g.first_at, g.emoji),
                      '[]')
              from (select e.emoji, pg_catalog.count(*) as reactions,
                           pg_catalog.bool_or(e.user_id is not distinct from me) as mine,
                           pg_catalog.min(e.created_at) as first_at
                    from public.message_reactions e
                    where e.message_id = p.id and (e.user_id is null or e.user_id <> all (hidden_senders))
                    group by e.emoji) g),
             p.more
      from (select m.*, pg_catalog.count(*) over () > size as more
            from (select * from public.messages m
                  where m.conversation_id = get_messages.conversation_id and m.id > floor_id
                    and m.id < coalesce(get_messages.before_id, 9223372036854775807)
                    and (m.sender_id is null or m.sender_id <> all (hidden_senders))
                  order by m.conversation_id desc, m.id desc limit size + 1) m) p
      order by p.id desc
      limit size;
    return;
  end if;

  -- Forward, and around a message: oldest first.
  return query
    select p.id, p.conversation_id, p.sender_kind, p.sender_id, p.persona_id, p.kind, p.body, p.metadata,
           p.reply_to_message_id, p.client_msg_id, p.created_at, p.edited_at, p.deleted_at, p.deleted_by,
           p.pinned_at, p.pinned_by,
           case when p.reply_to_message_id is null then null
                when p.reply_to_message_id <= floor_id then
                  pg_catalog.jsonb_build_object('id', p.reply_to_message_id, 'hidden', true)
                -- Read only for replies (no probe per row); a reply to a sender the caller blocked is hidden too.
                else (select case when r.sender_id = any (hidden_senders) then
                                    pg_catalog.jsonb_build_object('id', p.reply_to_message_id, 'hidden', true)
                                  else pg_catalog.jsonb_build_object('id', r.id, 'sender_kind', r.sender_kind,
                                         'sender_id', r.sender_id, 'persona_id', r.persona_id, 'kind', r.kind,
                                         'body', pg_catalog.left(r.body, 100),
                                         'deleted', r.deleted_at is not null) end
                      from (select) as one left join public.messages r on r.id = p.reply_to_message_id) end,
           (select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
                      'emoji', g.emoji, 'count', g.reactions, 'reacted_by_me', g.mine) order by g.first_at, g.emoji),
                    '[]')
            from (select e.emoji, pg_catalog.count(*) as reactions,
                         pg_catalog.bool_or(e.user_id is not distinct from me) as mine,
                         pg_catalog.min(e.created_at) as first_at
                  from public.message_reactions e
                  where e.message_id = p.id and (e.user_id is null or e.user_id <> all (hidden_senders))
                  group by e.emoji) g),
           pg_catalog.bool_or(p.more) over ()
    from (
      -- Forward, oldest first: paging down, or catching up after a reconnect (since_id).
      (select f.*, f.n > size as more
       from (select m.*, pg_catalog.count(*) over () as n
             from (select * from public.messages m
                   where direction = 'forward'
                     and m.conversation_id = get_messages.conversation_id
                     and m.id > greatest(floor_id, get_messages.after_id, get_messages.since_id)
                     and (m.sender_id is null or m.sender_id <> all (hidden_senders))
                   order by m.conversation_id, m.id limit size + 1) m) f
       order by f.conversation_id, f.id limit size)
      union all
      -- Around, the older half (ending with around_id itself).
      (select o.*, o.n > half as more
       from (select m.*, pg_catalog.count(*) over () as n
             from (select * from public.messages m
                   where direction = 'around'
                     and m.conversation_id = get_messages.conversation_id and m.id > floor_id
                     and m.id <= get_messages.around_id
                     and (m.sender_id is null or m.sender_id <> all (hidden_senders))
                   order by m.conversation_id desc, m.id desc limit half + 1) m) o
       order by o.conversation_id desc, o.id desc limit half)
      union all
      -- Around, the newer half.
      (select w.*, w.n > size - half as more
       from (select m.*, pg_catalog.count(*) over () as n
             from (select * from public.messages m
                   where direction = 'around'
                     and m.conversation_id = get_messages.conversation_id
                     and m.id > greatest(floor_id, get_messages.around_id)
                     and (m.sender_id is null or m.sender_id <> all (hidden_senders))
                   order by m.conversation_id, m.id limit size - half + 1) m) w
       order by w.conversation_id, w.id limit size - half)
    ) p
    order by p.id;
end
$$;
comment on function parley_internal.get_messages(uuid, bigint, bigint, bigint, bigint, integer) is
  'A page of a conversation''s history you can see, keyset by message id (page_size 1..100, default 50), with reply_preview and reactions per message. No cursor or before_id: newest first. after_id or since_id (reconnect catch-up): oldest first. around_id: a window around that message, oldest first. has_more says whether more messages lie beyond the page in its direction.';
select parley_internal.publish_function(
  'parley_internal.get_messages(uuid, bigint, bigint, bigint, bigint, integer)'::regprocedure);
