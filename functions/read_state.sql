-- Read state (issue 4): delivered and read watermarks, unread and mention
-- counts, read receipts. Design and costs: docs/read-state.md.
--
-- Each member has one inbox entry (public.inbox_entries) holding two message
-- id watermarks. Nothing is written per message per recipient and nothing is
-- counted on send: unread counts are computed when asked, per conversation,
-- by one range probe of messages (conversation_id, id) after the watermark,
-- stopped after 101 rows (UNREAD_CAP = 100; see unread_state). Mentions are a
-- range probe of message_mentions (user_id, conversation_id, message_id).
--
-- Unread, for member U of conversation C:
--   messages of C with id > greatest(U's last_read_message_id,
--   U's visible_from_message_id), not deleted, not sent by U (persona and
--   system messages count, except a system message whose metadata.actor_id
--   is U: their own group change). Mention unread: message_mentions rows of U in C
--   with message_id past the same watermark, whose message is not deleted and
--   not sent by U (so mentions are always a subset of unread).
--
-- Only members have read state: staff reading a support conversation
-- through their permission have no inbox entry, and every RPC here answers
-- them, like strangers, PT404 conversation_not_found.

create or replace function parley_internal.read_state_member(conversation_id uuid, user_id uuid)
returns public.conversation_members
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  member public.conversation_members;
begin
  select * into member from public.conversation_members m
  where m.conversation_id = read_state_member.conversation_id and m.user_id = read_state_member.user_id;
  if not found then
    -- Non-members cannot tell another organization's conversation from a missing one.
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  return member;
end
$$;
comment on function parley_internal.read_state_member(uuid, uuid) is
  'The user''s roster row in the conversation; refuse PT404 conversation_not_found unless they are a member.';
select parley_internal.restrict_function('parley_internal.read_state_member(uuid, uuid)', '{}');

create or replace function parley_internal.require_visible_message(
  conversation_id uuid, message_id bigint, visible_from bigint
)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if require_visible_message.message_id is null or require_visible_message.message_id <= 0 then
    perform parley_internal.refuse('P0001', 'invalid_message_id', 'A message id is a positive number.',
      'Pass the id of a message of this conversation.');
  end if;
  if require_visible_message.message_id <= require_visible_message.visible_from
     or not exists (select 1 from public.messages msg
                    where msg.id = require_visible_message.message_id
                      and msg.conversation_id = require_visible_message.conversation_id) then
    perform parley_internal.refuse('PT404', 'message_not_found', 'No such message in this conversation.',
      'Pass the id of a message of this conversation that you can see.');
  end if;
end
$$;
comment on function parley_internal.require_visible_message(uuid, bigint, bigint) is
  'Refuse P0001 invalid_message_id for a null or non-positive id, PT404 message_not_found unless the message is in the conversation and after the member''s visibility cut-off.';
select parley_internal.restrict_function('parley_internal.require_visible_message(uuid, bigint, bigint)', '{}');

create or replace function parley_internal.own_inbox_entry(conversation_id uuid, user_id uuid)
returns public.inbox_entries
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  entry public.inbox_entries;
begin
  select * into entry from public.inbox_entries e
  where e.user_id = own_inbox_entry.user_id and e.conversation_id = own_inbox_entry.conversation_id;
  if not found then
    -- The member left between the check and now.
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  return entry;
end
$$;
comment on function parley_internal.own_inbox_entry(uuid, uuid) is
  'The user''s inbox entry of the conversation; refuse PT404 conversation_not_found if there is none.';
select parley_internal.restrict_function('parley_internal.own_inbox_entry(uuid, uuid)', '{}');

-- Watermarks ------------------------------------------------------------------

create or replace function parley_internal.mark_delivered(conversation_id uuid, message_id bigint)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  member public.conversation_members;
  entry public.inbox_entries;
begin
  member := parley_internal.read_state_member(mark_delivered.conversation_id, caller);
  perform parley_internal.require_visible_message(member.conversation_id, mark_delivered.message_id,
                                                  member.visible_from_message_id);
  -- Only forwards; an already-delivered id writes nothing (no dead tuple per repeated call).
  update public.inbox_entries e
  set last_delivered_message_id = mark_delivered.message_id, updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = member.conversation_id
    and e.last_delivered_message_id < mark_delivered.message_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(member.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.mark_delivered(uuid, bigint) is
  'Record that every message of the conversation up to message_id reached your device. Never moves backwards; returns your inbox entry (watermarks).';
select parley_internal.publish_function('parley_internal.mark_delivered(uuid, bigint)');

create or replace function parley_internal.mark_read(conversation_id uuid, message_id bigint default null)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  member public.conversation_members;
  target bigint := mark_read.message_id;
  entry public.inbox_entries;
begin
  member := parley_internal.read_state_member(mark_read.conversation_id, caller);
  if target is null then
    -- Everything up to the newest message (one backward probe of messages (conversation_id, id)).
    select msg.id into target from public.messages msg
    where msg.conversation_id = member.conversation_id
    order by msg.id desc limit 1;
    if target is null or target <= member.visible_from_message_id then
      return parley_internal.own_inbox_entry(member.conversation_id, caller);
    end if;
  else
    perform parley_internal.require_visible_message(member.conversation_id, target, member.visible_from_message_id);
  end if;
  -- Read implies delivered. Only forwards; nothing to move writes nothing.
  update public.inbox_entries e
  set last_read_message_id = greatest(e.last_read_message_id, target),
      last_delivered_message_id = greatest(e.last_delivered_message_id, target),
      updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = member.conversation_id
    and (e.last_read_message_id < target or e.last_delivered_message_id < target)
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(member.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.mark_read(uuid, bigint) is
  'Mark the conversation read up to message_id (default: its newest message you can see); also marks it delivered. Never moves backwards; returns your inbox entry.';
select parley_internal.publish_function('parley_internal.mark_read(uuid, bigint)');

create or replace function parley_internal.mark_unread(conversation_id uuid, message_id bigint)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  member public.conversation_members;
  target bigint;
  entry public.inbox_entries;
begin
  member := parley_internal.read_state_member(mark_unread.conversation_id, caller);
  perform parley_internal.require_visible_message(member.conversation_id, mark_unread.message_id,
                                                  member.visible_from_message_id);
  -- The greatest message id below it that the member can see, or 0.
  select msg.id into target from public.messages msg
  where msg.conversation_id = member.conversation_id and msg.id < mark_unread.message_id
  order by msg.id desc limit 1;
  if target is null or target <= member.visible_from_message_id then
    target := 0;
  end if;
  -- least(): messages already unread stay unread; nothing before message_id becomes read.
  update public.inbox_entries e
  set last_read_message_id = target, updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = member.conversation_id
    and e.last_read_message_id > target
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(member.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.mark_unread(uuid, bigint) is
  'Mark message_id and every later message of the conversation unread (your read watermark moves to the message before it). Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.mark_unread(uuid, bigint)');

-- Unread counts ------------------------------------------------------------------

create or replace function parley_internal.unread_state(user_id uuid)
returns table (
  conversation_id uuid,
  organization_id uuid,
  unread_count integer,
  unread_capped boolean,
  mention_count integer,
  mention_capped boolean,
  badge_count integer,
  newest_message_id bigint,
  last_read_message_id bigint,
  last_delivered_message_id bigint,
  muted boolean,
  muted_until timestamptz,
  notification_level text,
  archived boolean,
  hidden boolean
)
language sql
stable
security definer
set search_path = ''
set jit = off
as $$
  select e.conversation_id, c.organization_id,
         least(u.n, 100), u.n > 100, least(mn.n, 100), mn.n > 100,
         case when st.muted or st.archived or st.hidden then 0
              when e.notification_level = 'all' then least(u.n, 100)
              when e.notification_level = 'mentions' then least(mn.n, 100)
              else 0 end,
         st.newest_id, e.last_read_message_id, e.last_delivered_message_id,
         st.muted, e.muted_until, e.notification_level, st.archived, st.hidden
  from public.inbox_entries e
  join public.conversation_members m on m.conversation_id = e.conversation_id and m.user_id = e.user_id
  join public.conversations c on c.id = e.conversation_id
  -- Senders the user blocked raise no unread or mention count (functions/group_safety.sql): one array per call.
  cross join (select parley_internal.blocked_user_ids(unread_state.user_id) as ids) blocked
  -- The newest message: one backward probe of messages (conversation_id, id).
  left join lateral (
    select msg.id from public.messages msg where msg.conversation_id = e.conversation_id
    order by msg.id desc limit 1
  ) newest on true
  cross join lateral (
    select coalesce(newest.id, 0) as newest_id,
           coalesce(e.muted_until > pg_catalog.now(), false) as muted,
           e.archived_at_message_id is not null
             and (coalesce(newest.id, 0) <= e.archived_at_message_id
                  or coalesce(e.muted_until > pg_catalog.now(), false)) as archived,
           e.hidden_at_message_id is not null and coalesce(newest.id, 0) <= e.hidden_at_message_id as hidden
  ) st
  -- Capped unread count: at most 101 index entries of messages (conversation_id, id) after the watermark.
  cross join lateral (
    select pg_catalog.count(*)::integer as n from (
      select 1 from public.messages msg
      where msg.conversation_id = e.conversation_id
        and msg.id > greatest(e.last_read_message_id, m.visible_from_message_id)
        and msg.deleted_at is null
        and msg.sender_id is distinct from e.user_id
        and (msg.sender_id is null or msg.sender_id <> all (blocked.ids))
        -- A system message about the member's own group change ("You added Bob") is not news to them.
        and (msg.sender_kind <> 'system' or (msg.metadata ->> 'actor_id') is distinct from e.user_id::text)
      limit 101
    ) capped
  ) u
  -- Capped mention count: message_mentions (user_id, conversation_id, message_id) after the watermark.
  cross join lateral (
    select pg_catalog.count(*)::integer as n from (
      select 1 from public.message_mentions mm
      join public.messages msg on msg.id = mm.message_id
      where mm.user_id = e.user_id and mm.conversation_id = e.conversation_id
        and mm.message_id > greatest(e.last_read_message_id, m.visible_from_message_id)
        and msg.deleted_at is null
        and msg.sender_id is distinct from e.user_id
        and (msg.sender_id is null or msg.sender_id <> all (blocked.ids))
      limit 101
    ) capped
  ) mn
  where e.user_id = unread_state.user_id
$$;
comment on function parley_internal.unread_state(uuid) is
  'Per conversation of the user, in one statement: capped unread and mention counts (exact up to 100), badge contribution, newest message id, watermarks and flags.';
select parley_internal.restrict_function('parley_internal.unread_state(uuid)', '{}');

create or replace function parley_internal.get_unread_counts()
returns table (
  conversation_id uuid,
  organization_id uuid,
  unread_count integer,
  unread_capped boolean,
  mention_count integer,
  mention_capped boolean,
  badge_count integer,
  newest_message_id bigint,
  last_read_message_id bigint,
  last_delivered_message_id bigint,
  muted boolean,
  muted_until timestamptz,
  notification_level text,
  archived boolean,
  hidden boolean
)
language plpgsql
stable
security definer
set search_path = ''
set jit = off
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  return query select * from parley_internal.unread_state(caller) s order by s.conversation_id;
end
$$;
comment on function parley_internal.get_unread_counts() is
  'Unread and mention counts of every conversation you are a member of, in one call. Counts are exact up to 100; unread_capped/mention_capped mean "more than 100" (show 99+ above 99). badge_count is what the conversation adds to the app badge (0 when muted, archived, hidden or notification_level none; mentions only for level mentions).';
select parley_internal.publish_function('parley_internal.get_unread_counts()');

create or replace function parley_internal.get_unread_total(
  out unread_count integer,
  out mention_count integer,
  out unread_conversations integer,
  out capped boolean,
  out excluded_unread_conversations integer
)
returns record
language plpgsql
stable
security definer
set search_path = ''
set jit = off
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  select coalesce(pg_catalog.sum(s.badge_count), 0)::integer,
         coalesce(pg_catalog.sum(s.mention_count) filter (where not (s.muted or s.archived or s.hidden)
                                                and s.notification_level <> 'none'), 0)::integer,
         (pg_catalog.count(*) filter (where s.badge_count > 0))::integer,
         coalesce(pg_catalog.bool_or((s.unread_capped and s.notification_level = 'all')
                          or (s.mention_capped and s.notification_level <> 'none'))
                  filter (where s.badge_count > 0), false),
         (pg_catalog.count(*) filter (where s.badge_count = 0 and s.unread_count > 0))::integer
    into get_unread_total.unread_count, get_unread_total.mention_count, get_unread_total.unread_conversations,
         get_unread_total.capped, get_unread_total.excluded_unread_conversations
  from parley_internal.unread_state(caller) s;
end
$$;
comment on function parley_internal.get_unread_total() is
  'The app badge: unread_count sums each conversation''s badge_count (muted, archived, hidden and notification_level none conversations count 0; level mentions counts mentions only); capped: some count was over 100 (show 99+). excluded_unread_conversations: conversations with unread messages that the badge leaves out.';
select parley_internal.publish_function('parley_internal.get_unread_total()');

-- Receipts ------------------------------------------------------------------

create or replace function parley_internal.get_message_receipts(
  message_id bigint, page_size integer default 100, after_user_id uuid default null
)
returns table (user_id uuid, display_name text, avatar_url text, delivered boolean, read boolean)
language plpgsql
stable
security definer
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  message public.messages;
begin
  if get_message_receipts.page_size is null or get_message_receipts.page_size not between 1 and 500 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 500.',
      'Pass a smaller page_size and page with after_user_id.');
  end if;
  select * into message from public.messages msg where msg.id = get_message_receipts.message_id;
  if not found or not parley_internal.can_read_message(message.id, caller) then
    perform parley_internal.refuse('PT404', 'message_not_found', 'No such message.',
      'Check the message id; you must be able to read its conversation.');
  end if;
  return query
    select m.user_id, p.display_name, p.avatar_url, true,
           e.last_read_message_id >= message.id and coalesce(ps.send_read_receipts, true)
    from public.conversation_members m
    join public.inbox_entries e on e.user_id = m.user_id and e.conversation_id = m.conversation_id
    left join public.profiles p on p.id = m.user_id
    left join public.privacy_settings ps on ps.user_id = m.user_id
    where m.conversation_id = message.conversation_id
      and m.user_id is distinct from message.sender_id
      and greatest(e.last_delivered_message_id, e.last_read_message_id) >= message.id
      and e.joined_at_message_id < message.id
      and m.visible_from_message_id < message.id
      and (get_message_receipts.after_user_id is null or m.user_id > get_message_receipts.after_user_id)
    order by m.user_id
    limit get_message_receipts.page_size;
end
$$;
comment on function parley_internal.get_message_receipts(bigint, integer, uuid) is
  'Who received and who read a message you can read: members other than its sender, who were members when it was sent, whose delivered (delivered) or read (read) watermark reached it. A member who turned off send_read_receipts is listed as delivered only. Ordered by user_id; page with after_user_id (page_size up to 500).';
select parley_internal.publish_function('parley_internal.get_message_receipts(bigint, integer, uuid)');
