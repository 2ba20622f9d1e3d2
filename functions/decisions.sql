-- Decision functions (seed 000): may this user message / call that user?
-- Reasons, checked in this order (the first that applies wins):
--   unauthenticated         no current user
--   recipient_not_found     no such user
--   self                    sender and recipient are the same
--   blocked                 the sender blocked the recipient
--   privacy                 the recipient does not accept this from the sender
--                           (their setting is nobody, or they blocked the
--                           sender: the blocked party is not told)
--   not_connected           the recipient accepts only connections
--   no_shared_organization  the recipient accepts only people sharing an
--                           organization, or the sender belongs to none
--   feature_disabled        no candidate organization's plan includes chat
--                           (calls: chat.calls)
--   no_permission           the sender lacks chat.view (calls:
--                           chat.initiate_call) in every such organization
--   ok                      allowed
-- Candidate organizations: those the two share, or, when they share none,
-- the sender's own (where a cross-organization conversation would live).

create or replace function parley_internal.message_decision(sender_id uuid, recipient_id uuid, kind text)
returns table (allowed boolean, reason text)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  audience public.contact_audience;
  shared boolean;
  needed_permission text;
  candidates uuid[];
  featured uuid[];
begin
  if kind is null or kind not in ('message', 'call') then
    perform parley_internal.refuse('P0001', 'invalid_kind', 'kind is message or call.', 'Pass message or call.');
  end if;
  if sender_id is null then
    return query select false, 'unauthenticated'::text;
    return;
  end if;
  if recipient_id is null or not exists (select 1 from public.profiles p where p.id = recipient_id) then
    return query select false, 'recipient_not_found'::text;
    return;
  end if;
  if sender_id = recipient_id then
    return query select false, 'self'::text;
    return;
  end if;
  if exists (select 1 from public.blocks b where b.blocker_id = sender_id and b.blocked_id = recipient_id) then
    return query select false, 'blocked'::text;
    return;
  end if;
  if exists (select 1 from public.blocks b where b.blocker_id = recipient_id and b.blocked_id = sender_id) then
    return query select false, 'privacy'::text;
    return;
  end if;
  select case when kind = 'message' then s.who_can_message else s.who_can_call end into audience
  from public.privacy_settings s where s.user_id = recipient_id;
  audience := coalesce(audience, case when kind = 'message' then 'everyone' else 'connections' end::public.contact_audience);
  shared := parley_internal.shares_organization(sender_id, recipient_id);
  if audience = 'nobody' then
    return query select false, 'privacy'::text;
    return;
  end if;
  if audience = 'connections' and not parley_internal.are_connected(sender_id, recipient_id) then
    return query select false, 'not_connected'::text;
    return;
  end if;
  if audience = 'shared_organization' and not shared then
    return query select false, 'no_shared_organization'::text;
    return;
  end if;
  select pg_catalog.array_agg(m.organization_id) into candidates
  from public.organization_members m
  where m.user_id = sender_id
    and (not shared or exists (select 1 from public.organization_members r
                               where r.organization_id = m.organization_id and r.user_id = recipient_id));
  if candidates is null then
    return query select false, 'no_shared_organization'::text;
    return;
  end if;
  select pg_catalog.array_agg(o) into featured
  from pg_catalog.unnest(candidates) o
  where parley_internal.organization_has_feature(o, 'chat')
    and (kind = 'message' or parley_internal.organization_has_feature(o, 'chat.calls'));
  if featured is null then
    return query select false, 'feature_disabled'::text;
    return;
  end if;
  needed_permission := case when kind = 'message' then 'chat.view' else 'chat.initiate_call' end;
  if not exists (select 1 from pg_catalog.unnest(featured) o
                 where parley_internal.has_permission(o, needed_permission, sender_id)) then
    return query select false, 'no_permission'::text;
    return;
  end if;
  return query select true, 'ok'::text;
end
$$;
comment on function parley_internal.message_decision(uuid, uuid, text) is
  'Whether sender may message (kind message) or call (kind call) recipient, with a stable reason code.';
revoke all on function parley_internal.message_decision(uuid, uuid, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.message_decision(uuid, uuid, text) to service_role;

create or replace function parley_internal.can_message(recipient_id uuid)
returns public.contact_decision
language sql
stable
security definer
set search_path = ''
as $$
  select d.allowed, d.reason
  from parley_internal.message_decision((select auth.uid()), can_message.recipient_id, 'message') d
$$;
comment on function parley_internal.can_message(uuid) is
  'Whether the current user may send the recipient a direct message: {allowed, reason}.';
select parley_internal.publish_function('parley_internal.can_message(uuid)', '{anon,authenticated}');

create or replace function parley_internal.can_call(recipient_id uuid)
returns public.contact_decision
language sql
stable
security definer
set search_path = ''
as $$
  select d.allowed, d.reason
  from parley_internal.message_decision((select auth.uid()), can_call.recipient_id, 'call') d
$$;
comment on function parley_internal.can_call(uuid) is
  'Whether the current user may call the recipient: {allowed, reason}.';
select parley_internal.publish_function('parley_internal.can_call(uuid)', '{anon,authenticated}');
