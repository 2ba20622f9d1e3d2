-- Support conversations (issue 4): "Help & Support", one per user per
-- organization (subject_conversation_for, functions/conversations.sql); its
-- support agents (chat.support_agent) set its status, assign it and work
-- through the support queue.

create or replace function parley_internal.get_or_create_support_conversation(organization_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  conversation uuid;
  result public.conversations;
begin
  perform parley_internal.require_organization_member(get_or_create_support_conversation.organization_id, caller);
  conversation := parley_internal.subject_conversation_for(get_or_create_support_conversation.organization_id, caller, 'support');
  select * into result from public.conversations c where c.id = conversation;
  return result;
end
$$;
comment on function parley_internal.get_or_create_support_conversation(uuid) is
  'Your "Help & Support" conversation with the organization''s staff (one per user per organization), created on first use.';
select parley_internal.publish_function('parley_internal.get_or_create_support_conversation(uuid)');

create or replace function parley_internal.lock_support_conversation(conversation_id uuid, user_id uuid)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  locked public.conversations := parley_internal.lock_conversation(lock_support_conversation.conversation_id,
                                                                   lock_support_conversation.user_id);
begin
  if locked.kind <> 'support' then
    perform parley_internal.refuse('PT409', 'not_support', 'Only support conversations have a status and an assignee.',
      'Check the conversation id.');
  end if;
  if not parley_internal.is_conversation_staff(locked.id, lock_support_conversation.user_id) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only support agents change support conversations.',
      'Ask an owner or admin for the chat.support_agent permission.');
  end if;
  return locked;
end
$$;
comment on function parley_internal.lock_support_conversation(uuid, uuid) is
  'Lock a support conversation for a support agent of its organization; refuse otherwise.';
select parley_internal.restrict_function('parley_internal.lock_support_conversation(uuid, uuid)', '{}');

create or replace function parley_internal.set_support_status(conversation_id uuid, status text)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  updated public.conversations;
begin
  if status is null or status not in ('open', 'pending', 'resolved') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A support status is open, pending or resolved.',
      'Pass one of them.');
  end if;
  locked := parley_internal.lock_support_conversation(set_support_status.conversation_id, caller);
  if locked.support_status = status then
    perform parley_internal.refuse('PT409', 'status_unchanged', pg_catalog.format('The conversation already is %s.', status),
      'Nothing to change.');
  end if;
  update public.conversations c set support_status = set_support_status.status, updated_at = pg_catalog.now()
  where c.id = locked.id returning * into updated;
  return parley_internal.with_support_assignee(updated);
end
$$;
comment on function parley_internal.set_support_status(uuid, text) is
  'Support agents: set a support conversation''s status (open, pending, resolved).';
select parley_internal.publish_function('parley_internal.set_support_status(uuid, text)');

create or replace function parley_internal.assign_support_conversation(conversation_id uuid, assignee_id uuid default null)
returns public.conversations
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  locked public.conversations;
  updated public.conversations;
begin
  locked := parley_internal.lock_support_conversation(assign_support_conversation.conversation_id, caller);
  if assignee_id is not null
     and not parley_internal.has_permission(locked.organization_id, 'chat.support_agent', assignee_id) then
    perform parley_internal.refuse('PT404', 'agent_not_found', 'The assignee must be a support agent of the organization.',
      'Pick a member with chat.support_agent.');
  end if;
  -- The assignee is kept out of the conversation row, which the customer reads (issue 12).
  if (select a.assignee_id from parley_internal.support_assignments a where a.conversation_id = locked.id)
     is not distinct from assignee_id then
    perform parley_internal.refuse('PT409', 'assignee_unchanged', 'The conversation already has this assignee.',
      'Nothing to change.');
  end if;
  if assignee_id is null then
    delete from parley_internal.support_assignments a where a.conversation_id = locked.id;
  else
    insert into parley_internal.support_assignments as a (conversation_id, assignee_id)
    values (locked.id, assign_support_conversation.assignee_id)
    on conflict on constraint support_assignments_pkey
    do update set assignee_id = excluded.assignee_id, assigned_at = excluded.assigned_at;
  end if;
  update public.conversations c set updated_at = pg_catalog.now()
  where c.id = locked.id returning * into updated;
  return parley_internal.with_support_assignee(updated);
end
$$;
comment on function parley_internal.assign_support_conversation(uuid, uuid) is
  'Support agents: assign a support conversation to an agent of the organization (null unassigns). The result shows the assignee; the customer never sees it.';
select parley_internal.publish_function('parley_internal.assign_support_conversation(uuid, uuid)');

create or replace function parley_internal.get_support_queue(
  organization_id uuid, status text default 'open', after_conversation_id uuid default null, page_size integer default 50
)
returns setof public.conversations
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
begin
  perform parley_internal.require_organization_member(get_support_queue.organization_id, caller);
  if not parley_internal.has_permission(get_support_queue.organization_id, 'chat.support_agent', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only support agents see the support queue.',
      'Ask an owner or admin for the chat.support_agent permission.');
  end if;
  if status is not null and status not in ('open', 'pending', 'resolved') then
    perform parley_internal.refuse('P0001', 'invalid_status', 'A support status is open, pending or resolved.',
      'Pass one of them, or null for all.');
  end if;
  if page_size is null or page_size not between 1 and 200 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 200.', 'Use 50.');
  end if;
  return query
    select shown.* from public.conversations c
    cross join lateral parley_internal.with_support_assignee(c) as shown
    where c.organization_id = get_support_queue.organization_id and c.kind = 'support'
      and (get_support_queue.status is null or c.support_status = get_support_queue.status)
      and (get_support_queue.after_conversation_id is null or c.id > get_support_queue.after_conversation_id)
    order by c.id
    limit get_support_queue.page_size;
end
$$;
comment on function parley_internal.get_support_queue(uuid, text, uuid, integer) is
  'Support agents: the organization''s support conversations with a status (null for all), paged by id (pass the last id as after_conversation_id).';
select parley_internal.publish_function('parley_internal.get_support_queue(uuid, text, uuid, integer)');
