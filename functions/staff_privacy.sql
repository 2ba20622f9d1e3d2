-- Staff stay hidden behind personas and Support (issue 12, seed 001).
--
-- One rule, one place: a user's id is written where the conversation's
-- readers see it (messages.deleted_by, messages.pinned_by,
-- message_edits.edited_by, message_reactions.user_id) only when that user is
-- on the conversation's roster. Staff who handle a support, persona or
-- notices conversation through their organization permission are not, so
-- they act as the organization: the column is null and the customer sees
-- the persona (a persona message or conversation) or "Support". Sends work
-- the same way (sender_kind persona or support, functions/message_send.sql).
-- Who really acted is in the audit log (actor_id), readable by staff with
-- chat.audit_read: message.edit / delete / pin / unpin / react / unreact /
-- send_as_persona / send_as_support, conversation.support_assign.

create or replace function parley_internal.visible_actor(conversation_id uuid, user_id uuid)
returns uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.user_id from public.conversation_members m
  where m.conversation_id = visible_actor.conversation_id and m.user_id = visible_actor.user_id
$$;
comment on function parley_internal.visible_actor(uuid, uuid) is
  'The id to record as the actor in a column the conversation''s readers see: the user if on the roster, else null (staff acting for the organization, shown as the persona or Support).';
select parley_internal.restrict_function('parley_internal.visible_actor(uuid, uuid)', '{}');

create or replace function parley_internal.with_support_assignee(conversation public.conversations)
returns public.conversations
language sql
stable
security definer
set search_path = ''
as $$
  select pg_catalog.jsonb_populate_record(
    with_support_assignee.conversation,
    pg_catalog.jsonb_build_object('support_assignee_id', (
      select a.assignee_id from parley_internal.support_assignments a
      where a.conversation_id = (with_support_assignee.conversation).id)))
$$;
comment on function parley_internal.with_support_assignee(public.conversations) is
  'The conversation row as support agents see it in the support RPCs: support_assignee_id filled from parley_internal.support_assignments (the table row keeps it null for the customer).';
select parley_internal.restrict_function('parley_internal.with_support_assignee(public.conversations)', '{}');

-- Assignment events ---------------------------------------------------------------

create or replace function parley_internal.realtime_support_assignment_changed()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  conversation public.conversations;
begin
  select * into conversation from public.conversations c
  where c.id = coalesce(new.conversation_id, old.conversation_id);
  if not found then
    return null;  -- the conversation is being deleted
  end if;
  if tg_op in ('INSERT', 'UPDATE') and (tg_op = 'INSERT' or old.assignee_id is distinct from new.assignee_id) then
    -- The agent's own inbox: a conversation was handed to them.
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object(
                                        'conversation', parley_internal.realtime_conversation_json(
                                                          parley_internal.with_support_assignee(conversation))),
                                      'support_assigned', 'user:' || new.assignee_id, true);
  end if;
  if tg_op in ('UPDATE', 'DELETE') and (tg_op = 'DELETE' or old.assignee_id is distinct from new.assignee_id) then
    perform parley_internal.broadcast(pg_catalog.jsonb_build_object('conversation_id', conversation.id),
                                      'support_unassigned', 'user:' || old.assignee_id, true);
  end if;
  return null;
end
$$;
comment on function parley_internal.realtime_support_assignment_changed() is
  'Trigger: support_assigned on the new assignee''s user:{id}, support_unassigned on the previous one''s. Nothing on conversation:{id}, which the customer reads.';
select parley_internal.restrict_function('parley_internal.realtime_support_assignment_changed()', '{}');

drop trigger if exists realtime_support_assignment_changed on parley_internal.support_assignments;
create trigger realtime_support_assignment_changed after insert or update or delete
  on parley_internal.support_assignments
  for each row execute function parley_internal.realtime_support_assignment_changed();

-- Audit of the hidden actors ---------------------------------------------------------
-- The assignee of a support conversation, and reactions by staff (user_id null):
-- the entry's actor_id names the staff user (functions/audit.sql, audit_row_change).

drop trigger if exists support_assignments_audit on parley_internal.support_assignments;
create trigger support_assignments_audit after insert or update or delete on parley_internal.support_assignments
  for each row execute function parley_internal.audit_row_change('conversation');

drop trigger if exists message_reactions_audit on public.message_reactions;
create trigger message_reactions_audit after insert on public.message_reactions
  for each row when (new.user_id is null)
  execute function parley_internal.audit_row_change('message');

drop trigger if exists message_reactions_removed_audit on public.message_reactions;
create trigger message_reactions_removed_audit after delete on public.message_reactions
  for each row when (old.user_id is null)
  execute function parley_internal.audit_row_change('message');
