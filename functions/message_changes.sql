-- Changing what was said (issue 4): edit_message and delete_message,
-- reactions and pins. A banned or muted user may delete but not edit or add
-- a reaction (issue 18, docs/moderation.md).

-- edit_message / delete_message ---------------------------------------------

create or replace function parley_internal.edit_message(message_id bigint, body text)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  original public.messages;
  organization uuid;
  settings public.organization_settings;
  clean_body text;
  edited public.messages;
begin
  original := parley_internal.readable_message(edit_message.message_id, caller, 'update');
  select c.organization_id into organization from public.conversations c where c.id = original.conversation_id;
  perform parley_internal.require_feature(organization, 'chat');
  if original.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.', 'Deleted messages stay deleted.');
  end if;
  if not parley_internal.is_message_author(original, caller) then
    perform parley_internal.refuse('42501', 'not_author', 'Only the author edits a message.',
      'Persona messages: support agents who may act as the persona.');
  end if;
  -- A banned or muted author cannot rewrite what they said either (docs/moderation.md).
  perform parley_internal.assert_not_restricted(organization, original.conversation_id, caller);
  settings := parley_internal.organization_settings_of(organization);
  if settings.edit_window_seconds is not null
     and pg_catalog.now() > original.created_at + pg_catalog.make_interval(secs => settings.edit_window_seconds) then
    perform parley_internal.refuse('PT409', 'edit_window_closed',
      pg_catalog.format('Messages can be edited for %s seconds after sending.', settings.edit_window_seconds),
      'Send a new message instead.');
  end if;
  clean_body := parley_internal.validate_message_body(edit_message.body, settings.max_message_length, false);
  if clean_body = original.body then
    -- Retrying an edit changes nothing and records nothing.
    return original;
  end if;
  insert into public.message_edits (message_id, edited_by, previous_body, previous_metadata)
  values (original.id, parley_internal.visible_actor(original.conversation_id, caller), original.body, original.metadata);
  update public.messages m set body = clean_body, edited_at = pg_catalog.now()
  where m.id = original.id
  returning * into edited;
  return edited;
end
$$;
comment on function parley_internal.edit_message(bigint, text) is
  'Edit your message''s body (persona messages: support agents who may act as the persona), within the organization''s edit window; refused (403 banned or muted) while you are restricted there. The previous body goes into message_edits; mentions are not re-read.';
select parley_internal.publish_function('parley_internal.edit_message(bigint, text)'::regprocedure);

create or replace function parley_internal.delete_message(message_id bigint)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  original public.messages;
  deleted public.messages;
begin
  original := parley_internal.readable_message(delete_message.message_id, caller, 'update');
  if original.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'already_deleted', 'This message is already deleted.',
      'Nothing to do.');
  end if;
  if not parley_internal.is_message_author(original, caller)
     and not parley_internal.is_conversation_moderator(original.conversation_id, caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only the author or a moderator deletes a message.',
      'Moderators: group owners and admins, staff with chat.delete or chat.moderate.');
  end if;
  update public.messages m
  set body = null, metadata = '{}', deleted_at = pg_catalog.now(),
      deleted_by = parley_internal.visible_actor(original.conversation_id, caller), pinned_at = null,
      pinned_by = null
  where m.id = original.id
  returning * into deleted;
  -- A tombstone keeps its place (id, sender, replies point at it) but no content.
  delete from public.message_edits e where e.message_id = original.id;
  delete from public.message_reactions r where r.message_id = original.id;
  delete from public.message_mentions mm where mm.message_id = original.id;
  return deleted;
end
$$;
comment on function parley_internal.delete_message(bigint) is
  'Delete a message for everyone (author, or moderator: group owner/admin, chat.delete, chat.moderate): it stays as a tombstone (body null) and loses its edit history, reactions, mentions and pin.';
select parley_internal.publish_function('parley_internal.delete_message(bigint)'::regprocedure);

-- Reactions -----------------------------------------------------------------

create or replace function parley_internal.reaction_summary(message_id bigint, viewer uuid)
returns jsonb
language sql
stable
security definer
set search_path = ''
as $$
  select coalesce(pg_catalog.jsonb_agg(pg_catalog.jsonb_build_object(
           'emoji', s.emoji, 'count', s.reactions, 'reacted_by_me', s.mine) order by s.first_at, s.emoji), '[]')
  from (select r.emoji, pg_catalog.count(*) as reactions,
               pg_catalog.bool_or(r.user_id is not distinct from reaction_summary.viewer) as mine,
               pg_catalog.min(r.created_at) as first_at
        from public.message_reactions r where r.message_id = reaction_summary.message_id
          and (r.user_id is null
               or r.user_id <> all (coalesce((select parley_internal.blocked_user_ids(reaction_summary.viewer)), '{}')))
        group by r.emoji) s
$$;
comment on function parley_internal.reaction_summary(bigint, uuid) is
  'A message''s reactions as [{emoji, count, reacted_by_me}], in the order each emoji first appeared; viewer is the reacting identity (the user, or null for staff acting as the organization).';
select parley_internal.restrict_function('parley_internal.reaction_summary(bigint, uuid)', '{}');

create or replace function parley_internal.toggle_reaction(message_id bigint, emoji text)
returns jsonb
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  clean_emoji text := parley_internal.validate_emoji(toggle_reaction.emoji);
  target public.messages;
  organization uuid;
  actor uuid;
begin
  -- FOR SHARE: waits for a concurrent delete, so no reaction outlives its message's content.
  target := parley_internal.readable_message(toggle_reaction.message_id, caller, 'share');
  select c.organization_id into organization from public.conversations c where c.id = target.conversation_id;
  perform parley_internal.require_feature(organization, 'chat');
  if target.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.',
      'Deleted messages take no reactions.');
  end if;
  -- Staff off the roster react as the organization (user_id null: the persona or Support; issue 12).
  actor := parley_internal.visible_actor(target.conversation_id, caller);
  delete from public.message_reactions r
  where r.message_id = target.id and r.emoji = clean_emoji and r.user_id is not distinct from actor;
  if not found then
    -- Adding a reaction is speaking: a banned or muted user may only take theirs back (docs/moderation.md).
    perform parley_internal.assert_not_restricted(organization, target.conversation_id, caller);
    if (select pg_catalog.count(*) from public.message_reactions r
        where r.message_id = target.id and r.user_id is not distinct from actor) >= 20 then
      perform parley_internal.refuse('PT409', 'too_many_reactions', 'You have 20 reactions on this message already.',
        'Remove one first.');
    end if;
    insert into public.message_reactions (message_id, emoji, user_id, persona_id)
    values (target.id, clean_emoji, actor,
            case when actor is null then (select c.persona_id from public.conversations c
                                          where c.id = target.conversation_id) end)
    on conflict on constraint message_reactions_key do nothing;
  end if;
  return parley_internal.reaction_summary(target.id, actor);
end
$$;
comment on function parley_internal.toggle_reaction(bigint, text) is
  'Add your reaction (one emoji or :shortcode:) to a message you can read, or remove it if you had it (a banned or muted user may only remove: 403 banned or muted); returns the message''s reactions [{emoji, count, reacted_by_me}].';
select parley_internal.publish_function('parley_internal.toggle_reaction(bigint, text)'::regprocedure);

-- Pins ------------------------------------------------------------------------

create or replace function parley_internal.pin_message(message_id bigint, pinned boolean default true)
returns public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  target public.messages;
  conversation public.conversations;
  changed public.messages;
begin
  if pin_message.pinned is null then
    perform parley_internal.refuse('P0001', 'invalid_pinned', 'pinned is true or false.', 'Pass false to unpin.');
  end if;
  target := parley_internal.readable_message(pin_message.message_id, caller, 'update');
  select * into conversation from public.conversations c where c.id = target.conversation_id;
  perform parley_internal.require_feature(conversation.organization_id, 'chat');
  if not parley_internal.is_conversation_moderator(conversation.id, caller)
     and not (conversation.kind in ('direct', 'support')
              and parley_internal.can_read_conversation(conversation.id, caller)) then
    perform parley_internal.refuse('42501', 'no_permission', 'Only moderators pin messages here.',
      'In direct and support conversations every member may pin; in groups owners and admins.');
  end if;
  if pin_message.pinned and target.deleted_at is not null then
    perform parley_internal.refuse('PT409', 'message_deleted', 'This message was deleted.',
      'Deleted messages cannot be pinned.');
  end if;
  if pin_message.pinned and target.pinned_at is null
     and (select pg_catalog.count(*) from (select 1 from public.messages p
                                           where p.conversation_id = conversation.id and p.pinned_at is not null
                                           limit 50) as pins) >= 50 then
    perform parley_internal.refuse('PT409', 'too_many_pins', 'A conversation has at most 50 pinned messages.',
      'Unpin one first.');
  end if;
  update public.messages m
  set pinned_at = case when pin_message.pinned then coalesce(m.pinned_at, pg_catalog.now()) end,
      pinned_by = case when not pin_message.pinned then null
                       when m.pinned_at is null then parley_internal.visible_actor(conversation.id, caller)
                       else m.pinned_by end
  where m.id = target.id
  returning * into changed;
  return changed;
end
$$;
comment on function parley_internal.pin_message(bigint, boolean) is
  'Pin (or with pinned false, unpin) a message: moderators anywhere, any member in direct and support conversations. Idempotent; at most 50 pins per conversation.';
select parley_internal.publish_function('parley_internal.pin_message(bigint, boolean)'::regprocedure);

create or replace function parley_internal.get_pinned_messages(conversation_id uuid)
returns setof public.messages
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  floor_id bigint := parley_internal.message_visible_from(get_pinned_messages.conversation_id, caller);
begin
  if floor_id is null then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be a member.');
  end if;
  -- Staff reading a conversation they are not a member of leave an audit trace (no-op for members).
  perform parley_internal.audit_staff_read(get_pinned_messages.conversation_id);
  return query
    select m.* from public.messages m
    where m.conversation_id = get_pinned_messages.conversation_id and m.pinned_at is not null and m.id > floor_id
      and (m.sender_id is null  -- senders the caller blocked are hidden (group_safety.sql)
           or m.sender_id <> all (coalesce((select parley_internal.blocked_user_ids(caller)), '{}')))
    order by m.id desc
    limit 50;
end
$$;
comment on function parley_internal.get_pinned_messages(uuid) is
  'The conversation''s pinned messages you can see, newest first (at most 50).';
select parley_internal.publish_function('parley_internal.get_pinned_messages(uuid)'::regprocedure);
