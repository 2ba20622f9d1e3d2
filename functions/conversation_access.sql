-- Who may read and post in which conversation: the SECURITY DEFINER helpers
-- every conversation, message, storage and realtime policy and RPC goes
-- through (never a policy that queries another RLS table, so no recursion).
--
-- Readers of a conversation:
--   * its members (conversation_members), from their visible_from_message_id;
--   * staff of its organization, by permission, for the conversations that
--     are theirs to handle: support and persona direct conversations
--     (chat.support_agent), notices conversations (chat.send_notice).
-- Nobody else, and never across organizations.

create or replace function parley_internal.conversation_role(conversation_id uuid, user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select m.role from public.conversation_members m
  where m.conversation_id = conversation_role.conversation_id and m.user_id = conversation_role.user_id
$$;
comment on function parley_internal.conversation_role(uuid, uuid) is
  'The user''s role in the conversation (owner, admin, member), or null if not a member.';
select parley_internal.restrict_function('parley_internal.conversation_role(uuid, uuid)', '{service_role}');

create or replace function parley_internal.is_conversation_member(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1 from public.conversation_members m
    where m.conversation_id = is_conversation_member.conversation_id and m.user_id = is_conversation_member.user_id
  )
$$;
comment on function parley_internal.is_conversation_member(uuid, uuid) is
  'Whether the user is on the conversation''s roster.';
select parley_internal.restrict_function('parley_internal.is_conversation_member(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_view_chats(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select parley_internal.has_permission(c.organization_id, 'chat.view', can_view_chats.user_id)
    from public.conversations c where c.id = can_view_chats.conversation_id
  ), false)
$$;
comment on function parley_internal.can_view_chats(uuid, uuid) is
  'Whether the user holds chat.view in the conversation''s organization: without it a member reads and sends nothing there (issue 12).';
select parley_internal.restrict_function('parley_internal.can_view_chats(uuid, uuid)', '{service_role}');

create or replace function parley_internal.staff_permission_for(conversation public.conversations)
returns text
language sql
immutable
set search_path = ''
as $$
  select case
    when conversation.kind = 'support' or conversation.persona_id is not null then 'chat.support_agent'
    when conversation.kind = 'notices' then 'chat.send_notice'
  end
$$;
comment on function parley_internal.staff_permission_for(public.conversations) is
  'The permission that lets organization staff handle a conversation without being a member: chat.support_agent for support and persona direct conversations, chat.send_notice for notices; null for others.';
select parley_internal.restrict_function('parley_internal.staff_permission_for(public.conversations)', '{service_role}');

create or replace function parley_internal.is_conversation_staff(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select parley_internal.has_permission(c.organization_id, parley_internal.staff_permission_for(c),
                                          is_conversation_staff.user_id)
    from public.conversations c
    where c.id = is_conversation_staff.conversation_id
      and parley_internal.staff_permission_for(c) is not null
  ), false)
$$;
comment on function parley_internal.is_conversation_staff(uuid, uuid) is
  'Whether the user is staff of the conversation''s organization with the permission to handle it (support agent for support and persona conversations, notice sender for notices).';
select parley_internal.restrict_function('parley_internal.is_conversation_staff(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_read_conversation(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select user_id is not null
     and (parley_internal.is_conversation_member(can_read_conversation.conversation_id, can_read_conversation.user_id)
          or parley_internal.is_conversation_staff(can_read_conversation.conversation_id, can_read_conversation.user_id))
$$;
comment on function parley_internal.can_read_conversation(uuid, uuid) is
  'Whether the user may read the conversation: a member, or staff with the permission for its kind.';
select parley_internal.restrict_function('parley_internal.can_read_conversation(uuid, uuid)', '{service_role}');

create or replace function parley_internal.message_visible_from(conversation_id uuid, user_id uuid)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select case
    when m.visible_from_message_id is not null then
      case when parley_internal.can_view_chats(message_visible_from.conversation_id, message_visible_from.user_id)
           then m.visible_from_message_id end
    when parley_internal.is_conversation_staff(message_visible_from.conversation_id, message_visible_from.user_id) then 0
  end
  from (select) as one
  left join public.conversation_members m
    on m.conversation_id = message_visible_from.conversation_id and m.user_id = message_visible_from.user_id
$$;
comment on function parley_internal.message_visible_from(uuid, uuid) is
  'The user sees the conversation''s messages with an id greater than this; null if they cannot read it at all (members need chat.view).';
select parley_internal.restrict_function('parley_internal.message_visible_from(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_read_message(message_id bigint, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select msg.id > parley_internal.message_visible_from(msg.conversation_id, can_read_message.user_id)
    from public.messages msg where msg.id = can_read_message.message_id
  ), false)
$$;
comment on function parley_internal.can_read_message(bigint, uuid) is
  'Whether the user may read the message (it is in a conversation they read, after their visibility cut-off).';
select parley_internal.restrict_function('parley_internal.can_read_message(bigint, uuid)', '{service_role}');

create or replace function parley_internal.is_conversation_moderator(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(parley_internal.conversation_role(is_conversation_moderator.conversation_id,
                                                    is_conversation_moderator.user_id) in ('owner', 'admin'), false)
      or exists (
        select 1 from public.conversations c
        where c.id = is_conversation_moderator.conversation_id
          and (parley_internal.has_permission(c.organization_id, 'chat.moderate', is_conversation_moderator.user_id)
               or parley_internal.has_permission(c.organization_id, 'chat.delete', is_conversation_moderator.user_id))
      )
$$;
comment on function parley_internal.is_conversation_moderator(uuid, uuid) is
  'Whether the user moderates the conversation: a group owner or admin, or organization staff with chat.moderate or chat.delete.';
select parley_internal.restrict_function('parley_internal.is_conversation_moderator(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_post_in_conversation(conversation_id uuid, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select case c.kind
      when 'notices' then parley_internal.is_conversation_staff(c.id, can_post_in_conversation.user_id)
      when 'group' then
        parley_internal.conversation_role(c.id, can_post_in_conversation.user_id) in ('owner', 'admin')
        or (c.posting_policy = 'everyone'
            and parley_internal.is_conversation_member(c.id, can_post_in_conversation.user_id))
      else parley_internal.can_read_conversation(c.id, can_post_in_conversation.user_id)
    end
    from public.conversations c where c.id = can_post_in_conversation.conversation_id
  ), false)
   and parley_internal.organization_has_feature(
         (select c.organization_id from public.conversations c where c.id = can_post_in_conversation.conversation_id),
         'chat')
   and parley_internal.can_view_chats(can_post_in_conversation.conversation_id, can_post_in_conversation.user_id)
$$;
comment on function parley_internal.can_post_in_conversation(uuid, uuid) is
  'Whether the user may post: notices only staff with chat.send_notice; groups members (admins only when posting_policy is admins); direct and support their readers. The plan must include chat. Blocks and slow mode are checked by send_message.';
select parley_internal.restrict_function('parley_internal.can_post_in_conversation(uuid, uuid)', '{service_role}');

-- Member-only visibility: what the message tables show through plain reads.
-- Staff who handle a support, persona or notices conversation without being
-- a member read its content only through get_messages / get_pinned_messages,
-- which record the read in the audit log (seed 002 "admin override"); a plain
-- GET on a table could not leave that trace.

create or replace function parley_internal.member_fully_visible_conversation_ids(user_id uuid)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  -- chat.view (issue 12): one permission check per organization of the user, not per conversation.
  select m.conversation_id from public.conversation_members m
  join public.conversations c on c.id = m.conversation_id
  where m.user_id = member_fully_visible_conversation_ids.user_id and m.visible_from_message_id = 0
    and c.organization_id in (
      select om.organization_id from public.organization_members om
      where om.user_id = member_fully_visible_conversation_ids.user_id
        and parley_internal.has_permission(om.organization_id, 'chat.view', om.user_id))
$$;
comment on function parley_internal.member_fully_visible_conversation_ids(uuid) is
  'Conversations the user is a member of and sees the whole history of (in organizations where they hold chat.view); the fast path of the message table policies (evaluated once per statement).';
select parley_internal.restrict_function('parley_internal.member_fully_visible_conversation_ids(uuid)', '{service_role}');

create or replace function parley_internal.member_visible_from(conversation_id uuid, user_id uuid)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select m.visible_from_message_id from public.conversation_members m
  where m.conversation_id = member_visible_from.conversation_id and m.user_id = member_visible_from.user_id
$$;
comment on function parley_internal.member_visible_from(uuid, uuid) is
  'A member''s history cut-off: they see the conversation''s messages with a greater id; null for non-members (staff included). Per row in policies, so it does not check chat.view: callers do (member_readable_conversation_ids, my_chat_view_everywhere and my_member_can_read_viewable_message, audited_visible_from).';
select parley_internal.restrict_function('parley_internal.member_visible_from(uuid, uuid)', '{service_role}');

create or replace function parley_internal.member_readable_conversation_ids(user_id uuid)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.conversation_id from public.conversation_members m
  join public.conversations c on c.id = m.conversation_id
  where m.user_id = member_readable_conversation_ids.user_id
    and c.organization_id in (
      select om.organization_id from public.organization_members om
      where om.user_id = member_readable_conversation_ids.user_id
        and parley_internal.has_permission(om.organization_id, 'chat.view', om.user_id))
$$;
comment on function parley_internal.member_readable_conversation_ids(uuid) is
  'The conversations the user is a member of in organizations where they hold chat.view (one permission check per organization); the messages policy gates its per-row cut-off branch with it, evaluated once per statement.';
select parley_internal.restrict_function('parley_internal.member_readable_conversation_ids(uuid)', '{service_role}');

create or replace function parley_internal.member_can_read_message(message_id bigint, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select msg.id > parley_internal.member_visible_from(msg.conversation_id, member_can_read_message.user_id)
    from public.messages msg where msg.id = member_can_read_message.message_id
  ), false)
$$;
comment on function parley_internal.member_can_read_message(bigint, uuid) is
  'Whether the user, as a member, may read the message through a plain table read (staff use the audited RPCs).';
select parley_internal.restrict_function('parley_internal.member_can_read_message(bigint, uuid)', '{service_role}');

create or replace function parley_internal.member_conversation_ids(user_id uuid)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.conversation_id from public.conversation_members m where m.user_id = member_conversation_ids.user_id
$$;
comment on function parley_internal.member_conversation_ids(uuid) is
  'The conversations the user is a member of (one index range scan); the fast path of the conversation policies, evaluated once per statement. Staff-handled conversations are checked per row by is_conversation_staff, so a staff member of a large organization never builds the set of all its support conversations.';
select parley_internal.restrict_function('parley_internal.member_conversation_ids(uuid)', '{service_role}');

-- Policy helpers: the current user only (auth.uid()), no user argument, so an
-- API role calling them can learn nothing about anyone else (issue 20 finding
-- 4). The helpers above take a user id and are for definer code only.

create or replace function parley_internal.my_conversation_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.member_conversation_ids((select auth.uid()))
$$;
comment on function parley_internal.my_conversation_ids() is
  'Policy helper: the conversations the current user is a member of (evaluated once per statement).';
select parley_internal.restrict_function('parley_internal.my_conversation_ids()', '{authenticated}');

create or replace function parley_internal.my_fully_visible_conversation_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.member_fully_visible_conversation_ids((select auth.uid()))
$$;
comment on function parley_internal.my_fully_visible_conversation_ids() is
  'Policy helper: the conversations the current user is a member of and sees the whole history of.';
select parley_internal.restrict_function('parley_internal.my_fully_visible_conversation_ids()', '{authenticated}');

create or replace function parley_internal.my_history_cut_offs()
returns table (conversation_id uuid, visible_from bigint)
language sql
stable
security definer
set search_path = ''
as $$
  select m.conversation_id, m.visible_from_message_id from public.conversation_members m
  where m.user_id = (select auth.uid()) and m.visible_from_message_id > 0
    and m.conversation_id in (select parley_internal.member_readable_conversation_ids((select auth.uid())))
$$;
comment on function parley_internal.my_history_cut_offs() is
  'Policy helper: the current user''s conversations with a history cut-off (since_joined groups) where they hold chat.view, with the cut-off. The messages policy scans it with exists (...): computed once per statement, not once per row.';
select parley_internal.restrict_function('parley_internal.my_history_cut_offs()', '{authenticated}');

create or replace function parley_internal.my_member_can_read_message(message_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.member_can_read_message(my_member_can_read_message.message_id, (select auth.uid()))
$$;
comment on function parley_internal.my_member_can_read_message(bigint) is
  'Policy helper: whether the current user, as a member, may read the message through a plain table read.';
select parley_internal.restrict_function('parley_internal.my_member_can_read_message(bigint)', '{authenticated}');

-- chat.view for the per-row policies of message_edits and message_reactions: one check per statement
-- when the reader holds chat.view in every organization they belong to (the usual case), the per-row
-- check only otherwise (a per-row permission lookup costs about 10x the read).
create or replace function parley_internal.chat_view_everywhere(user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select not exists (
    select 1 from public.organization_members om
    where om.user_id = chat_view_everywhere.user_id
      and not parley_internal.has_permission(om.organization_id, 'chat.view', om.user_id))
$$;
comment on function parley_internal.chat_view_everywhere(uuid) is
  'Whether the user holds chat.view in every organization they belong to.';
select parley_internal.restrict_function('parley_internal.chat_view_everywhere(uuid)', '{service_role}');

create or replace function parley_internal.my_chat_view_everywhere()
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.chat_view_everywhere((select auth.uid()))
$$;
comment on function parley_internal.my_chat_view_everywhere() is
  'Policy helper (evaluated once per statement): whether the current user holds chat.view in every organization they belong to.';
select parley_internal.restrict_function('parley_internal.my_chat_view_everywhere()', '{authenticated}');

create or replace function parley_internal.my_member_can_read_viewable_message(message_id bigint)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce((
    select parley_internal.member_can_read_message(msg.id, (select auth.uid()))
           and parley_internal.can_view_chats(msg.conversation_id, (select auth.uid()))
    from public.messages msg where msg.id = my_member_can_read_viewable_message.message_id
  ), false)
$$;
comment on function parley_internal.my_member_can_read_viewable_message(bigint) is
  'Policy helper: whether the current user, as a member holding chat.view in its organization, may read the message through a plain table read.';
select parley_internal.restrict_function('parley_internal.my_member_can_read_viewable_message(bigint)', '{authenticated}');

create or replace function parley_internal.my_staff_conversation(conversation_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_conversation_staff(my_staff_conversation.conversation_id, (select auth.uid()))
$$;
comment on function parley_internal.my_staff_conversation(uuid) is
  'Policy helper: whether the current user is staff handling the conversation (its row and roster, never its content).';
select parley_internal.restrict_function('parley_internal.my_staff_conversation(uuid)', '{authenticated}');

-- Staff content only through audited paths (issue 20 finding 6, seed 002). Staff who handle a support,
-- persona or notices conversation without being a member read its messages through get_messages /
-- get_pinned_messages, which write conversation.staff_read. Its files (attachments rows, storage
-- objects) and its realtime topic (message bodies) are theirs only within 15 minutes after such an
-- audited read: the trace is written at most every 10 minutes while they keep reading, so a client that
-- opens the conversation with get_messages first always has one.
create or replace function parley_internal.audited_visible_from(conversation_id uuid, user_id uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  floor_id bigint := parley_internal.member_visible_from(audited_visible_from.conversation_id,
                                                         audited_visible_from.user_id);
begin
  if floor_id is not null then
    -- Members without chat.view read nothing (issue 12).
    return case when parley_internal.can_view_chats(audited_visible_from.conversation_id, audited_visible_from.user_id)
                then floor_id end;
  end if;
  if exists (select 1 from parley_internal.audit_staff_reads r
             where r.conversation_id = audited_visible_from.conversation_id
               and r.user_id = audited_visible_from.user_id
               and r.recorded_at > pg_catalog.now() - interval '15 minutes')
     and parley_internal.is_conversation_staff(audited_visible_from.conversation_id, audited_visible_from.user_id) then
    return 0;
  end if;
  return null;
end
$$;
comment on function parley_internal.audited_visible_from(uuid, uuid) is
  'Content visibility outside the audited RPCs: a member''s cut-off; 0 for staff of the conversation who left a conversation.staff_read trace in the last 15 minutes; null otherwise.';
select parley_internal.restrict_function('parley_internal.audited_visible_from(uuid, uuid)', '{service_role}');

create or replace function parley_internal.my_content_visible_from(conversation_id uuid)
returns bigint
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.audited_visible_from(my_content_visible_from.conversation_id, (select auth.uid()))
$$;
comment on function parley_internal.my_content_visible_from(uuid) is
  'Policy helper: the current user sees the conversations content (attachments) with a greater id: a member from their cut-off, staff only just after an audited read; null otherwise.';
select parley_internal.restrict_function('parley_internal.my_content_visible_from(uuid)', '{authenticated}');
