-- Group safety (issue 20): what blocks, privacy and leaving mean in groups.
-- The rules (docs/conversations.md, "Blocks and privacy in groups"):
--   * Adding someone to a group (create_group_conversation's member_ids,
--     add_conversation_members) needs what a direct message needs:
--     message_decision(adder, user, 'message') must allow it. Nobody is added
--     against their who_can_message setting or by someone they blocked, and
--     nobody adds a user they blocked themselves.
--   * Leaving sticks: a user who left a group is not added back by anyone
--     until they call allow_group_readd (their consent). Being removed by an
--     admin does not stick (the group decided, not the user).
--   * In a group they share, a blocker does not see what the user they
--     blocked posts: get_messages leaves their messages out (replies to them
--     show only {id, hidden}), reaction summaries leave out their reactions,
--     their messages raise no unread count and no mention count, the inbox
--     shows no preview of them, and mentioning the blocker stores no mention.
--     The blocked user is not told.

create or replace function parley_internal.blocked_user_ids(user_id uuid)
returns uuid[]
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  -- plpgsql: its plan is cached per session (a SQL definer function is planned on every call).
  return (select coalesce(pg_catalog.array_agg(b.blocked_id), '{}')
          from public.blocks b where b.blocker_id = blocked_user_ids.user_id);
end
$$;
comment on function parley_internal.blocked_user_ids(uuid) is
  'The users this user has blocked (empty array if none): whose messages, reactions and mentions are hidden from them. One blocks primary key range scan.';
select parley_internal.restrict_function('parley_internal.blocked_user_ids(uuid)', '{}');

create or replace function parley_internal.require_group_addable(conversation_id uuid, adder uuid, user_ids uuid[])
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  target uuid;
  decision record;
begin
  foreach target in array coalesce(require_group_addable.user_ids, '{}') loop
    continue when target = require_group_addable.adder
      or parley_internal.is_conversation_member(require_group_addable.conversation_id, target);
    if exists (select 1 from parley_internal.group_departures d
               where d.conversation_id = require_group_addable.conversation_id and d.user_id = target) then
      perform parley_internal.refuse('PT409', 'left_group',
        pg_catalog.format('User %s left this group and has not allowed being added back.', target),
        'Leave them out; they can rejoin only after calling allow_group_readd themselves.');
    end if;
    select * into decision from parley_internal.message_decision(require_group_addable.adder, target, 'message');
    if not decision.allowed then
      perform parley_internal.refuse('42501', decision.reason,
        case decision.reason
          when 'blocked' then pg_catalog.format('You blocked user %s.', target)
          else pg_catalog.format('User %s does not accept being added to groups by you.', target) end,
        case decision.reason
          when 'blocked' then 'Unblock them first, or leave them out.'
          else 'People choose who may message them, and so who may add them to groups; leave them out.' end);
    end if;
  end loop;
end
$$;
comment on function parley_internal.require_group_addable(uuid, uuid, uuid[]) is
  'Refuse adding any of user_ids (not the adder, not already members) to the group (null while it is being created) who left it and did not allow being re-added (PT409 left_group), or whom the adder may not message (42501 blocked, privacy, not_connected, ... as can_message).';
select parley_internal.restrict_function('parley_internal.require_group_addable(uuid, uuid, uuid[])', '{}');

create or replace function parley_internal.record_group_departure(conversation_id uuid, user_id uuid)
returns void
language sql
volatile
security definer
set search_path = ''
as $$
  insert into parley_internal.group_departures as d (conversation_id, user_id)
  values (record_group_departure.conversation_id, record_group_departure.user_id)
  on conflict on constraint group_departures_pkey do update set left_at = pg_catalog.now()
$$;
comment on function parley_internal.record_group_departure(uuid, uuid) is
  'Remember that the user left the group themselves (leave_conversation), so nobody adds them back without their consent.';
select parley_internal.restrict_function('parley_internal.record_group_departure(uuid, uuid)', '{}');

create or replace function parley_internal.allow_group_readd(conversation_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  delete from parley_internal.group_departures d
  where d.conversation_id = allow_group_readd.conversation_id and d.user_id = caller;
  if not found then
    perform parley_internal.refuse('PT404', 'departure_not_found', 'You have not left this group.',
      'Only a group you left yourself needs your consent to add you back.');
  end if;
end
$$;
comment on function parley_internal.allow_group_readd(uuid) is
  'Allow the owner or an admin of a group you left to add you back (leaving sticks until you call this). Blocks and privacy still apply to who may add you.';
select parley_internal.publish_function('parley_internal.allow_group_readd(uuid)');
