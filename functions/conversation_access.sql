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
--
-- Shape (issue 13): the helpers are plpgsql (one statement each, its plan
-- cached per session; a SQL SECURITY DEFINER function is never inlined and
-- is planned again on every call). The table policies probe the view
-- my_memberships per row (an index probe of the roster's primary key the
-- planner inlines), never a per-statement set of the reader's conversations.

create or replace function parley_internal.conversation_role(conversation_id uuid, user_id uuid)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select m.role from public.conversation_members m
          where m.conversation_id = conversation_role.conversation_id and m.user_id = conversation_role.user_id);
end
$$;
comment on function parley_internal.conversation_role(uuid, uuid) is
  'The user''s role in the conversation (owner, admin, member), or null if not a member.';
select parley_internal.restrict_function('parley_internal.conversation_role(uuid, uuid)', '{service_role}');

create or replace function parley_internal.is_conversation_member(conversation_id uuid, user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.conversation_members m
                 where m.conversation_id = is_conversation_member.conversation_id
                   and m.user_id = is_conversation_member.user_id);
end
$$;
comment on function parley_internal.is_conversation_member(uuid, uuid) is
  'Whether the user is on the conversation''s roster.';
select parley_internal.restrict_function('parley_internal.is_conversation_member(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_view_chats(conversation_id uuid, user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.conversations c
                 join parley_internal.member_permissions p on p.organization_id = c.organization_id
                 where c.id = can_view_chats.conversation_id and p.user_id = can_view_chats.user_id
                   and p.permission = 'chat.view');
end
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
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (select 1 from public.conversations c
                 join parley_internal.member_permissions p on p.organization_id = c.organization_id
                 where c.id = is_conversation_staff.conversation_id and p.user_id = is_conversation_staff.user_id
                   and p.permission = parley_internal.staff_permission_for(c));
end
$$;
comment on function parley_internal.is_conversation_staff(uuid, uuid) is
  'Whether the user is staff of the conversation''s organization with the permission to handle it (support agent for support and persona conversations, notice sender for notices).';
select parley_internal.restrict_function('parley_internal.is_conversation_staff(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_read_conversation(conversation_id uuid, user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return can_read_conversation.user_id is not null
     and (exists (select 1 from public.conversation_members m
                  where m.conversation_id = can_read_conversation.conversation_id
                    and m.user_id = can_read_conversation.user_id)
          or parley_internal.is_conversation_staff(can_read_conversation.conversation_id, can_read_conversation.user_id));
end
$$;
comment on function parley_internal.can_read_conversation(uuid, uuid) is
  'Whether the user may read the conversation: a member, or staff with the permission for its kind.';
select parley_internal.restrict_function('parley_internal.can_read_conversation(uuid, uuid)', '{service_role}');

-- The message visibility rule, written once (issue 13): every path that decides how far back a reader sees a
-- conversation (message_visible_from, get_messages, audited_visible_from) passes the reader's roster cut-off
-- (member_visible_from: null when not a member) through visible_from.
create or replace function parley_internal.visible_from(member_floor bigint, conversation_id uuid, user_id uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if visible_from.member_floor is not null then
    -- Members see from their cut-off, and nothing without chat.view (issue 12).
    return case when parley_internal.can_view_chats(visible_from.conversation_id, visible_from.user_id)
                then visible_from.member_floor end;
  end if;
  -- Staff of the conversation's kind see all of it; nobody else anything.
  return case when parley_internal.is_conversation_staff(visible_from.conversation_id, visible_from.user_id)
              then 0 end;
end
$$;
comment on function parley_internal.visible_from(bigint, uuid, uuid) is
  'The message visibility rule: given the user''s roster cut-off in the conversation (member_floor, null when not a member), the id after which they see its messages: a member their cut-off if they hold chat.view, staff of the conversation''s kind 0; null if they see nothing.';
select parley_internal.restrict_function('parley_internal.visible_from(bigint, uuid, uuid)', '{service_role}');

create or replace function parley_internal.message_visible_from(conversation_id uuid, user_id uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return parley_internal.visible_from(
    parley_internal.member_visible_from(message_visible_from.conversation_id, message_visible_from.user_id),
    message_visible_from.conversation_id, message_visible_from.user_id);
end
$$;
comment on function parley_internal.message_visible_from(uuid, uuid) is
  'The user sees the conversation''s messages with an id greater than this; null if they cannot read it at all (members need chat.view).';
select parley_internal.restrict_function('parley_internal.message_visible_from(uuid, uuid)', '{service_role}');

create or replace function parley_internal.can_read_message(message_id bigint, user_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return coalesce((
    select msg.id > parley_internal.message_visible_from(msg.conversation_id, can_read_message.user_id)
    from public.messages msg where msg.id = can_read_message.message_id
  ), false);
end
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

-- Member-only visibility: what the tables show through plain reads. Staff
-- who handle a support, persona or notices conversation without being a
-- member read its content only through get_messages / get_pinned_messages,
-- which record the read in the audit log (seed 002 "admin override"); a plain
-- GET on a table could not leave that trace.

create or replace function parley_internal.member_visible_from(conversation_id uuid, user_id uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return (select m.visible_from_message_id from public.conversation_members m
          where m.conversation_id = member_visible_from.conversation_id and m.user_id = member_visible_from.user_id);
end
$$;
comment on function parley_internal.member_visible_from(uuid, uuid) is
  'A member''s history cut-off: they see the conversation''s messages with a greater id; null for non-members (staff included). It does not check chat.view: callers do (visible_from, the message policies, message_search).';
select parley_internal.restrict_function('parley_internal.member_visible_from(uuid, uuid)', '{service_role}');

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
  'Conversations the user is a member of and sees the whole history of (in organizations where they hold chat.view); message_search''s whole-history set (the policies probe my_memberships per row instead).';
select parley_internal.restrict_function('parley_internal.member_fully_visible_conversation_ids(uuid)', '{service_role}');

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
  'The conversations the user is a member of (one index range scan); message_search''s reachable set (the policies probe my_memberships per row instead).';
select parley_internal.restrict_function('parley_internal.member_conversation_ids(uuid)', '{service_role}');

-- Policy building blocks: the current user only (auth.uid()), no user argument, so an API role using them
-- can learn nothing about anyone else (issue 20 finding 4). The helpers above take a user id and are for
-- definer code only.

-- The reader's roster rows. Owned by the owner of conversation_members (the migration owner), so reading
-- it bypasses that table's RLS (no policy recursion); security_barrier, so a caller's own predicates never
-- see other users' rows. A policy probes it per row with exists (... where m.conversation_id = <row>):
-- the planner turns that into one primary-key probe of conversation_members.
create or replace view parley_internal.my_memberships with (security_barrier = true) as
  select m.conversation_id, m.role, m.visible_from_message_id
  from public.conversation_members m
  where m.user_id = (select auth.uid());
comment on view parley_internal.my_memberships is
  'Policy building block: the current user''s roster rows (conversation, role, history cut-off). The conversations, roster, messages, attachments, calls and retention policies probe it per row.';
comment on column parley_internal.my_memberships.conversation_id is 'A conversation the current user is a member of.';
comment on column parley_internal.my_memberships.role is 'Their role in it (owner, admin, member).';
comment on column parley_internal.my_memberships.visible_from_message_id is
  'Their history cut-off: they see its messages with a greater id (0: all).';
revoke all on table parley_internal.my_memberships from public, anon, authenticated, service_role;
grant select on table parley_internal.my_memberships to authenticated;

create or replace function parley_internal.my_chat_view_everywhere()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return not exists (
    select 1 from public.organization_members om
    where om.user_id = (select auth.uid())
      and not exists (select 1 from parley_internal.member_permissions p
                      where p.organization_id = om.organization_id and p.user_id = om.user_id
                        and p.permission = 'chat.view'));
end
$$;
comment on function parley_internal.my_chat_view_everywhere() is
  'Policy helper (evaluated once per statement): whether the current user holds chat.view in every organization they belong to (the usual case); only otherwise do the message policies check chat.view per row (my_can_view_chats).';
select parley_internal.restrict_function('parley_internal.my_chat_view_everywhere()', '{authenticated}');

create or replace function parley_internal.my_can_view_chats(conversation_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return parley_internal.can_view_chats(my_can_view_chats.conversation_id, (select auth.uid()));
end
$$;
comment on function parley_internal.my_can_view_chats(uuid) is
  'Policy helper: whether the current user holds chat.view in the conversation''s organization (per row, only for readers who lack it somewhere).';
select parley_internal.restrict_function('parley_internal.my_can_view_chats(uuid)', '{authenticated}');

create or replace function parley_internal.my_staff_anywhere()
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return exists (select 1 from parley_internal.member_permissions p
                 where p.user_id = (select auth.uid())
                   and p.permission in ('chat.support_agent', 'chat.send_notice'));
end
$$;
comment on function parley_internal.my_staff_anywhere() is
  'Policy helper (evaluated once per statement, and only for rows the member probe refused): whether the current user holds a staff permission (chat.support_agent, chat.send_notice; see staff_permission_for) in any organization. Gates the per-row staff branch of policies on tables without a conversation kind.';
select parley_internal.restrict_function('parley_internal.my_staff_anywhere()', '{authenticated}');

create or replace function parley_internal.my_staff_conversation(conversation_id uuid)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return parley_internal.is_conversation_staff(my_staff_conversation.conversation_id, (select auth.uid()));
end
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
  -- Members: the rule as is. Others: the rule (staff of the kind) only just after an audited read.
  if floor_id is not null
     or exists (select 1 from parley_internal.audit_staff_reads r
                where r.conversation_id = audited_visible_from.conversation_id
                  and r.user_id = audited_visible_from.user_id
                  and r.recorded_at > pg_catalog.now() - interval '15 minutes') then
    return parley_internal.visible_from(floor_id, audited_visible_from.conversation_id, audited_visible_from.user_id);
  end if;
  return null;
end
$$;
comment on function parley_internal.audited_visible_from(uuid, uuid) is
  'Content visibility outside the audited RPCs: a member''s cut-off; 0 for staff of the conversation who left a conversation.staff_read trace in the last 15 minutes; null otherwise.';
select parley_internal.restrict_function('parley_internal.audited_visible_from(uuid, uuid)', '{service_role}');

create or replace function parley_internal.my_content_visible_from(conversation_id uuid)
returns bigint
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  return parley_internal.audited_visible_from(my_content_visible_from.conversation_id, (select auth.uid()));
end
$$;
comment on function parley_internal.my_content_visible_from(uuid) is
  'Policy helper: the current user sees the conversation''s content (attachments) with a greater id: a member from their cut-off, staff only just after an audited read; null otherwise.';
select parley_internal.restrict_function('parley_internal.my_content_visible_from(uuid)', '{authenticated}');
