-- The send path's authorization in one statement (issue 13).
--
-- send_message used to ask a chain of LANGUAGE sql SECURITY DEFINER helpers
-- (readable_conversation -> can_read_conversation -> is_conversation_member,
-- is_conversation_staff; can_view_chats; can_post_in_conversation ->
-- conversation_role, organization_has_feature, can_view_chats again;
-- is_conversation_moderator; is_blocked_between ...). Such helpers are never
-- inlined and their plans are not cached: every call was planned again, and
-- together they read the conversation row 5 times and the roster row 3-4
-- times per send.
--
-- send_authorization reads the conversation, the sender's roster row, the
-- plan, the organization's settings, an active restriction and (direct
-- conversations) a block in ONE statement of a plpgsql function, whose plan
-- is cached per session. It answers the same questions as the helpers in
-- functions/conversation_access.sql (the same rules, written for one row):
--   readable  = member, or staff with the permission for the kind
--               (is_conversation_staff / can_read_conversation);
--   can_post  = can_post_in_conversation (the plan and chat.view are
--               reported separately: send_message refuses them first);
--   slow_mode_applies = slow mode on, and neither a moderator
--               (is_conversation_moderator) nor staff.
-- Permissions go through parley_internal.has_permission, only where the
-- answer is needed (CASE evaluates lazily): a member of a group or direct
-- conversation without slow mode costs one permission check (chat.view).
--
-- It raises nothing: send_message refuses in its documented order
-- (docs/messages.md "Send path").

create or replace function parley_internal.send_authorization(
  conversation_id uuid,
  user_id uuid,
  out conversation public.conversations,
  out readable boolean,
  out is_member boolean,
  out has_chat boolean,
  out can_view boolean,
  out can_post boolean,
  out restricted boolean,
  out blocked boolean,
  out slow_mode_applies boolean,
  out max_message_length integer
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  answer record;
begin
  select c as conversation, a.readable, a.is_member, a.has_chat, a.can_view,
         -- can_post_in_conversation, given the plan and chat.view (checked before it).
         coalesce(case c.kind
                    when 'notices' then a.is_staff
                    when 'group' then a.member_role in ('owner', 'admin')
                                      or (c.posting_policy = 'everyone' and a.is_member)
                    else a.readable
                  end, false) as can_post,
         a.restricted,
         a.blocked,
         c.slow_mode_seconds > 0
           and not (coalesce(a.member_role in ('owner', 'admin'), false)
                    or parley_internal.has_permission(c.organization_id, 'chat.moderate', send_authorization.user_id)
                    or parley_internal.has_permission(c.organization_id, 'chat.delete', send_authorization.user_id)
                    or a.is_staff) as slow_mode_applies,
         a.max_message_length
    into answer
  from public.conversations c
  left join public.conversation_members m
    on m.conversation_id = c.id and m.user_id = send_authorization.user_id
  cross join lateral (
    select m.user_id is not null as is_member,
           m.role as member_role,
           -- is_conversation_staff; evaluated only where a rule below needs it.
           case when s.permission is null then false
                when m.user_id is not null and c.kind <> 'notices' and c.slow_mode_seconds <= 0 then false
                else coalesce(parley_internal.has_permission(c.organization_id, s.permission,
                                                             send_authorization.user_id), false)
           end as is_staff,
           s.permission
    from (select case
                   when c.kind = 'support' or c.persona_id is not null then 'chat.support_agent'
                   when c.kind = 'notices' then 'chat.send_notice'
                 end as permission) s
  ) r
  cross join lateral (
    select r.is_member, r.member_role, r.is_staff,
           -- A member is a reader; so is staff (is_staff is computed for non-members).
           r.is_member or r.is_staff as readable,
           exists (select 1 from public.organizations o
                   join public.plan_features pf on pf.plan_id = o.plan_id
                   where o.id = c.organization_id and pf.feature = 'chat') as has_chat,
           coalesce(parley_internal.has_permission(c.organization_id, 'chat.view', send_authorization.user_id),
                    false) as can_view,
           -- The probe of assert_not_restricted (moderation_restrictions_active_idx); it raises the refusal.
           exists (select 1 from public.moderation_restrictions x
                   where x.user_id = send_authorization.user_id and x.organization_id = c.organization_id
                     and x.lifted_at is null
                     and (x.conversation_id is null or x.conversation_id = c.id)
                     and (x.expires_at is null or x.expires_at > pg_catalog.now())) as restricted,
           -- Blocks refuse only in a direct conversation between two users.
           case when c.kind = 'direct' and c.persona_id is null then
             exists (select 1 from public.conversation_members o
                     where o.conversation_id = c.id and o.user_id <> send_authorization.user_id
                       and parley_internal.is_blocked_between(send_authorization.user_id, o.user_id))
             else false
           end as blocked,
           (select st.max_message_length from public.organization_settings st
            where st.organization_id = c.organization_id) as max_message_length
  ) a
  where c.id = send_authorization.conversation_id;
  if not found then
    readable := false;
    return;
  end if;
  conversation := answer.conversation;
  readable := answer.readable;
  is_member := answer.is_member;
  has_chat := answer.has_chat;
  can_view := answer.can_view;
  can_post := answer.can_post;
  restricted := answer.restricted;
  blocked := answer.blocked;
  slow_mode_applies := answer.slow_mode_applies;
  max_message_length := answer.max_message_length;
end
$$;
comment on function parley_internal.send_authorization(uuid, uuid) is
  'Everything send_message needs to authorize a send, in one cached statement: the conversation, whether the user reads it (member or staff), is a member, the plan has chat, chat.view, may post, has an active ban or mute, a block in a direct conversation, whether slow mode applies to them, and the organization''s max_message_length (null if its settings row is missing). Raises nothing.';
select parley_internal.restrict_function('parley_internal.send_authorization(uuid, uuid)', '{}');
