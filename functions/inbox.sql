-- The inbox (issue 4): each member's archive, mute, pin, hide and
-- notification settings, and get_inbox, the one call that lists a user's
-- conversations. Design, ordering and costs: docs/read-state.md.
--
-- Archive and hide are stored as "the newest message id when archived /
-- hidden" (inbox_entries.archived_at_message_id, hidden_at_message_id): a
-- newer message brings the conversation back without any write on send. A
-- muted conversation stays archived. Archiving or hiding unpins; pinning
-- unarchives and unhides.

create or replace function parley_internal.require_flag(flag boolean, name text)
returns void
language plpgsql
immutable
security definer
set search_path = ''
as $$
begin
  if flag is null then
    perform parley_internal.refuse('P0001', 'invalid_flag', pg_catalog.format('%s is true or false, not null.', name),
      pg_catalog.format('Pass %s: true or false.', name));
  end if;
end
$$;
comment on function parley_internal.require_flag(boolean, text) is
  'Refuse P0001 invalid_flag when a boolean argument is null.';
select parley_internal.restrict_function('parley_internal.require_flag(boolean, text)', '{}');

-- Per-member state ------------------------------------------------------------

create or replace function parley_internal.archive_conversation(conversation_id uuid, archived boolean default true)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  entry public.inbox_entries;
begin
  perform parley_internal.require_flag(archive_conversation.archived, 'archived');
  perform parley_internal.read_state_member(archive_conversation.conversation_id, caller);
  update public.inbox_entries e
  set archived_at_message_id = case
        when archive_conversation.archived
          then parley_internal.newest_message_id(archive_conversation.conversation_id) end,
      pinned_at = case when archive_conversation.archived then null else e.pinned_at end,
      updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = archive_conversation.conversation_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(archive_conversation.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.archive_conversation(uuid, boolean) is
  'Archive (true) or unarchive (false) a conversation for yourself. A newer message unarchives it unless it is muted. Archiving unpins. Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.archive_conversation(uuid, boolean)');

create or replace function parley_internal.mute_conversation(conversation_id uuid, until timestamptz default 'infinity')
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  entry public.inbox_entries;
begin
  perform parley_internal.read_state_member(mute_conversation.conversation_id, caller);
  update public.inbox_entries e
  set muted_until = case when mute_conversation.until > pg_catalog.now() then mute_conversation.until end,
      updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = mute_conversation.conversation_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(mute_conversation.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.mute_conversation(uuid, timestamptz) is
  'Mute a conversation for yourself until a time (default infinity: until unmuted); null or a past time unmutes. Muted conversations add nothing to the badge and stay archived. Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.mute_conversation(uuid, timestamptz)');

create or replace function parley_internal.unmute_conversation(conversation_id uuid)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
begin
  return parley_internal.mute_conversation(unmute_conversation.conversation_id, null);
end
$$;
comment on function parley_internal.unmute_conversation(uuid) is
  'Unmute a conversation for yourself (same as mute_conversation with until null). Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.unmute_conversation(uuid)');

create or replace function parley_internal.pin_conversation(conversation_id uuid, pinned boolean default true)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  entry public.inbox_entries;
  pins integer;
begin
  perform parley_internal.require_flag(pin_conversation.pinned, 'pinned');
  perform parley_internal.read_state_member(pin_conversation.conversation_id, caller);
  if pin_conversation.pinned then
    -- One pin change per user at a time, so two concurrent pins cannot pass the cap together.
    perform pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('parley.pins:' || caller::text, 0));
    entry := parley_internal.own_inbox_entry(pin_conversation.conversation_id, caller);
    if entry.pinned_at is not null then
      return entry;
    end if;
    select pg_catalog.count(*)::integer into pins from public.inbox_entries e
    where e.user_id = caller and e.pinned_at is not null;
    if pins >= 10 then
      perform parley_internal.refuse('PT409', 'too_many_pins', 'You can pin at most 10 conversations.',
        'Unpin another conversation first.');
    end if;
  end if;
  update public.inbox_entries e
  set pinned_at = case when pin_conversation.pinned then pg_catalog.now() end,
      archived_at_message_id = case when pin_conversation.pinned then null else e.archived_at_message_id end,
      hidden_at_message_id = case when pin_conversation.pinned then null else e.hidden_at_message_id end,
      updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = pin_conversation.conversation_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(pin_conversation.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.pin_conversation(uuid, boolean) is
  'Pin (true) or unpin (false) a conversation at the top of your inbox; at most 10 pins (PT409 too_many_pins). Pinning unarchives and unhides. Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.pin_conversation(uuid, boolean)');

create or replace function parley_internal.hide_conversation(conversation_id uuid, hidden boolean default true)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  entry public.inbox_entries;
begin
  perform parley_internal.require_flag(hide_conversation.hidden, 'hidden');
  perform parley_internal.read_state_member(hide_conversation.conversation_id, caller);
  update public.inbox_entries e
  set hidden_at_message_id = case
        when hide_conversation.hidden
          then parley_internal.newest_message_id(hide_conversation.conversation_id) end,
      pinned_at = case when hide_conversation.hidden then null else e.pinned_at end,
      updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = hide_conversation.conversation_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(hide_conversation.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.hide_conversation(uuid, boolean) is
  'Hide (true) or show (false) a conversation in your inbox; any newer message shows it again (even when muted). Hiding unpins. Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.hide_conversation(uuid, boolean)');

create or replace function parley_internal.set_notification_level(conversation_id uuid, level text)
returns public.inbox_entries
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  entry public.inbox_entries;
begin
  if set_notification_level.level is null or set_notification_level.level not in ('all', 'mentions', 'none') then
    perform parley_internal.refuse('P0001', 'invalid_notification_level', 'A notification level is all, mentions or none.',
      'Pass all, mentions or none.');
  end if;
  perform parley_internal.read_state_member(set_notification_level.conversation_id, caller);
  update public.inbox_entries e
  set notification_level = set_notification_level.level, updated_at = pg_catalog.now()
  where e.user_id = caller and e.conversation_id = set_notification_level.conversation_id
  returning * into entry;
  if not found then
    entry := parley_internal.own_inbox_entry(set_notification_level.conversation_id, caller);
  end if;
  return entry;
end
$$;
comment on function parley_internal.set_notification_level(uuid, text) is
  'Choose which messages of a conversation notify you and count toward your badge: all, mentions or none. Returns your inbox entry.';
select parley_internal.publish_function('parley_internal.set_notification_level(uuid, text)');

-- The inbox ------------------------------------------------------------------

-- get_inbox gained archived_by_organization (issue 12, compliance mode): a result type cannot be replaced,
-- so an older version (and its wrapper) is dropped first; publish_function recreates the wrapper.
do $$
begin
  if exists (select 1 from pg_catalog.pg_proc p
             where p.oid = pg_catalog.to_regprocedure(
                     'parley_internal.get_inbox(integer, text, boolean, boolean, boolean, uuid)')
               and not ('archived_by_organization' = any (p.proargnames))) then
    drop function if exists public.get_inbox(integer, text, boolean, boolean, boolean, uuid);
    drop function parley_internal.get_inbox(integer, text, boolean, boolean, boolean, uuid);
  end if;
end
$$;

create or replace function parley_internal.get_inbox(
  page_size integer default 30,
  before_cursor text default null,
  include_archived boolean default false,
  include_hidden boolean default false,
  archived_only boolean default false,
  only_organization_id uuid default null
)
returns table (
  conversation_id uuid,
  kind text,
  organization_id uuid,
  title text,
  avatar_url text,
  other_user_id uuid,
  persona_id uuid,
  subject_user_id uuid,
  support_status text,
  member_role text,
  last_message_id bigint,
  last_message_sender_kind text,
  last_message_sender_id uuid,
  last_message_sender_name text,
  last_message_kind text,
  last_message_preview text,
  last_message_deleted boolean,
  last_message_created_at timestamptz,
  unread_count integer,
  unread_capped boolean,
  mention_count integer,
  mention_capped boolean,
  last_read_message_id bigint,
  last_delivered_message_id bigint,
  pinned boolean,
  pinned_at timestamptz,
  archived boolean,
  muted boolean,
  muted_until timestamptz,
  hidden boolean,
  notification_level text,
  activity_message_id bigint,
  sort_key text,
  archived_by_organization boolean
)
language plpgsql
stable
security definer
set search_path = ''
set jit = off
as $$
#variable_conflict use_column
declare
  caller uuid := parley_internal.require_user();
  hidden_senders uuid[] := parley_internal.blocked_user_ids(caller);  -- senders the caller blocked (group_safety.sql)
  cursor_parts text[];
  cursor_pinned integer;
  cursor_activity bigint;
  cursor_conversation uuid;
begin
  if get_inbox.page_size is null or get_inbox.page_size not between 1 and 100 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 100.',
      'Ask for at most 100 conversations and page with before_cursor.');
  end if;
  perform parley_internal.require_flag(get_inbox.include_archived, 'include_archived');
  perform parley_internal.require_flag(get_inbox.include_hidden, 'include_hidden');
  perform parley_internal.require_flag(get_inbox.archived_only, 'archived_only');
  if get_inbox.before_cursor is not null then
    cursor_parts := pg_catalog.regexp_match(get_inbox.before_cursor,
      '^([01])\.([0-9]{1,18})\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$');
    if cursor_parts is null then
      perform parley_internal.refuse('P0001', 'invalid_cursor', 'before_cursor is not a cursor get_inbox returned.',
        'Pass the sort_key of the last row of the previous page, unchanged.');
    end if;
    cursor_pinned := cursor_parts[1]::integer;
    cursor_activity := cursor_parts[2]::bigint;
    cursor_conversation := cursor_parts[3]::uuid;
  end if;

  return query
  with entries as (
    -- Every conversation of the caller: inbox_entries primary key (user_id, ...) prefix scan,
    -- roster and conversation by primary key, newest message by one backward probe.
    select e.conversation_id, e.last_read_message_id, e.last_delivered_message_id, e.archived_at_message_id,
           e.hidden_at_message_id, e.muted_until, e.pinned_at, e.notification_level, e.joined_at_message_id,
           m.role, m.visible_from_message_id,
           c.kind, c.organization_id, c.title, c.avatar_url, c.subject_user_id, c.persona_id, c.support_status,
           c.archived_by_organization, coalesce(newest.id, 0) as newest_id
    from public.inbox_entries e
    join public.conversation_members m on m.conversation_id = e.conversation_id and m.user_id = e.user_id
    join public.conversations c on c.id = e.conversation_id
    left join lateral (
      select msg.id from public.messages msg where msg.conversation_id = e.conversation_id
      order by msg.id desc limit 1
    ) newest on true
    where e.user_id = caller
      and (get_inbox.only_organization_id is null or c.organization_id = get_inbox.only_organization_id)
  ),
  flagged as (
    select x.*,
           coalesce(x.muted_until > pg_catalog.now(), false) as is_muted,
           x.archived_at_message_id is not null
             and (x.newest_id <= x.archived_at_message_id or coalesce(x.muted_until > pg_catalog.now(), false))
             as is_archived,
           x.hidden_at_message_id is not null and x.newest_id <= x.hidden_at_message_id as is_hidden,
           case when x.pinned_at is not null then 1 else 0 end as pinned_rank,
           -- Unique per conversation of one user: its own newest message id, or the user's own join tick.
           greatest(x.newest_id, x.joined_at_message_id) as activity
    from entries x
  ),
  page as (
    select f.* from flagged f
    where (get_inbox.include_hidden or not f.is_hidden)
      and case when get_inbox.archived_only then f.is_archived
               else get_inbox.include_archived or not f.is_archived end
      and (cursor_parts is null
           or (f.pinned_rank, f.activity, f.conversation_id) < (cursor_pinned, cursor_activity, cursor_conversation))
    order by f.pinned_rank desc, f.activity desc, f.conversation_id desc
    limit get_inbox.page_size
  )
  -- Only the page's rows get previews, titles and counts.
  select p.conversation_id, p.kind, p.organization_id,
         case p.kind
           when 'group' then p.title
           when 'notices' then 'Notices'
           when 'support' then case when p.subject_user_id = caller then 'Help & Support'
                                    else coalesce(subject_profile.display_name, 'Deleted user') end
           else case when p.persona_id is not null and p.subject_user_id = caller then conversation_persona.display_name
                     when p.persona_id is not null then coalesce(subject_profile.display_name, 'Deleted user')
                     else coalesce(other_profile.display_name, 'Deleted user') end
         end,
         case p.kind
           when 'group' then p.avatar_url
           when 'direct' then
             case when p.persona_id is not null and p.subject_user_id = caller then conversation_persona.avatar_url
                  when p.persona_id is not null then subject_profile.avatar_url
                  else other_profile.avatar_url end
           when 'support' then case when p.subject_user_id = caller then null else subject_profile.avatar_url end
         end,
         other.user_id, p.persona_id, p.subject_user_id, p.support_status, p.role,
         lm.id, lm.sender_kind, lm.sender_id,
         case lm.sender_kind
           when 'user' then coalesce(sender_profile.display_name, 'Deleted user')
           when 'persona' then sender_persona.display_name
           when 'support' then 'Support'
         end,
         lm.kind,
         case when lm.deleted_at is null and (lm.sender_id is null or lm.sender_id <> all (hidden_senders))
              then pg_catalog.left(lm.body, 100) end,
         lm.deleted_at is not null,
         lm.created_at,
         least(u.n, 100), u.n > 100, least(mn.n, 100), mn.n > 100,
         p.last_read_message_id, p.last_delivered_message_id,
         p.pinned_at is not null, p.pinned_at, p.is_archived, p.is_muted, p.muted_until, p.is_hidden,
         p.notification_level, p.activity,
         p.pinned_rank::text || '.' || p.activity::text || '.' || p.conversation_id::text,
         p.archived_by_organization
  from page p
  -- The last message, if the member can see it (primary key lookup).
  left join public.messages lm on lm.id = p.newest_id and p.newest_id > p.visible_from_message_id
  left join public.profiles sender_profile on lm.sender_kind = 'user' and sender_profile.id = lm.sender_id
  left join public.personas sender_persona on sender_persona.id = lm.persona_id
  -- The other party of a direct conversation between two users (roster primary key range, two rows at most).
  left join lateral (
    select om.user_id from public.conversation_members om
    where p.kind = 'direct' and p.persona_id is null
      and om.conversation_id = p.conversation_id and om.user_id <> caller
    limit 1
  ) other on true
  left join public.profiles other_profile on other_profile.id = other.user_id
  left join public.profiles subject_profile on subject_profile.id = p.subject_user_id
  left join public.personas conversation_persona on conversation_persona.id = p.persona_id
  cross join lateral (
    select pg_catalog.count(*)::integer as n from (
      select 1 from public.messages msg
      where msg.conversation_id = p.conversation_id
        and msg.id > greatest(p.last_read_message_id, p.visible_from_message_id)
        and msg.deleted_at is null
        and msg.sender_id is distinct from caller
        and (msg.sender_id is null or msg.sender_id <> all (hidden_senders))
        and (msg.sender_kind <> 'system' or (msg.metadata ->> 'actor_id') is distinct from caller::text)
      limit 101
    ) capped
  ) u
  cross join lateral (
    select pg_catalog.count(*)::integer as n from (
      select 1 from public.message_mentions mm
      join public.messages msg on msg.id = mm.message_id
      where mm.user_id = caller and mm.conversation_id = p.conversation_id
        and mm.message_id > greatest(p.last_read_message_id, p.visible_from_message_id)
        and msg.deleted_at is null
        and msg.sender_id is distinct from caller
        and (msg.sender_id is null or msg.sender_id <> all (hidden_senders))
      limit 101
    ) capped
  ) mn
  order by p.pinned_rank desc, p.activity desc, p.conversation_id desc;
end
$$;
comment on function parley_internal.get_inbox(integer, text, boolean, boolean, boolean, uuid) is
  'Your conversations, pinned first, then by last activity (newest message id, or when you joined for a conversation without newer messages), newest first; page_size up to 100, next page: before_cursor = the last row''s sort_key. Each row: title and avatar for you, last-message preview, unread and mention counts (exact up to 100), your flags and role. Archived and hidden conversations only on request (archived_only: the archive folder); only_organization_id limits it to one organization. archived_by_organization: the organization runs in compliance mode (its auditors may read and export the conversation).';
select parley_internal.publish_function('parley_internal.get_inbox(integer, text, boolean, boolean, boolean, uuid)');
