-- Attachments: storage path helpers (used by the storage.objects policies in
-- storage/chat_files.sql), the create/delete RPCs, the claim hook send_message
-- calls, and the triggers that queue files for deletion.
--
-- Path layout of the chat-files bucket:
--   {conversation_id}/{folder}/{uuid}-{safe_file_name}       uploads
--   {conversation_id}/{folder}/thumbnails/{attachment_id}.jpg  thumbnails (file worker only)
-- where folder is the uploader's user id, or "support" for staff who answer
-- the conversation without being on its roster (issue 12: the customer never
-- reads a staff user's id; chat_upload_folder tells clients which).

create or replace function parley_internal.chat_file_conversation_id(name text)
returns uuid
language sql
immutable
set search_path = ''
as $$
  select case
    when (storage.foldername(chat_file_conversation_id.name))[1]
         ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
    then ((storage.foldername(chat_file_conversation_id.name))[1])::uuid
  end
$$;
comment on function parley_internal.chat_file_conversation_id(text) is
  'The conversation a chat-files object belongs to: its first folder as a uuid, or null if that is not a uuid.';
select parley_internal.restrict_function('parley_internal.chat_file_conversation_id(text)', '{service_role}');

create or replace function parley_internal.chat_upload_folder_for(conversation_id uuid, user_id uuid)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  -- Staff answering a support, persona or notices conversation without being on its roster upload as the
  -- organization: their user id must never appear in a name the customer reads (issue 12).
  select case
    when chat_upload_folder_for.user_id is null then null
    when not parley_internal.is_conversation_member(chat_upload_folder_for.conversation_id, chat_upload_folder_for.user_id)
         and parley_internal.is_conversation_staff(chat_upload_folder_for.conversation_id, chat_upload_folder_for.user_id)
      then 'support'
    else chat_upload_folder_for.user_id::text
  end
$$;
comment on function parley_internal.chat_upload_folder_for(uuid, uuid) is
  'The folder a user uploads into in a conversation: their user id, or support for staff handling it without being a member.';
select parley_internal.restrict_function('parley_internal.chat_upload_folder_for(uuid, uuid)', '{}');

create or replace function parley_internal.chat_upload_folder(conversation_id uuid)
returns text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if (select auth.uid()) is null then
    perform parley_internal.refuse('42501', 'unauthenticated', 'Sign in to upload files.', null);
  end if;
  return parley_internal.chat_upload_folder_for(chat_upload_folder.conversation_id, (select auth.uid()));
end
$$;
comment on function parley_internal.chat_upload_folder(uuid) is
  'The folder to upload a chat file into: chat-files/{conversation_id}/{folder}/{uuid}-{safe_file_name}. Your user id, or "support" when you answer the conversation as staff (the customer never sees your id).';
select parley_internal.publish_function('parley_internal.chat_upload_folder(uuid)'::regprocedure, '{authenticated}');

create or replace function parley_internal.is_chat_upload_layout(name text, folder text)
returns boolean
language sql
immutable
set search_path = ''
as $$
  select coalesce(
    folder is not null
    and pg_catalog.array_length(storage.foldername(is_chat_upload_layout.name), 1) = 2
    and parley_internal.chat_file_conversation_id(is_chat_upload_layout.name) is not null
    and (storage.foldername(is_chat_upload_layout.name))[2] = is_chat_upload_layout.folder
    and storage.filename(is_chat_upload_layout.name)
        ~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-[A-Za-z0-9_][A-Za-z0-9._-]{0,99}$'
    and storage.filename(is_chat_upload_layout.name) !~ '\.\.',
    false)
$$;
comment on function parley_internal.is_chat_upload_layout(text, text) is
  'Whether name has the upload layout {conversation_id}/{folder}/{uuid}-{safe_file_name}, nothing more (no deeper folders, no ..).';
select parley_internal.restrict_function('parley_internal.is_chat_upload_layout(text, text)', '{}');

create or replace function parley_internal.is_chat_upload_name(name text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_chat_upload_layout(
    is_chat_upload_name.name,
    parley_internal.chat_upload_folder_for(parley_internal.chat_file_conversation_id(is_chat_upload_name.name),
                                           is_chat_upload_name.user_id))
$$;
comment on function parley_internal.is_chat_upload_name(text, uuid) is
  'Whether name has the layout of an upload by user_id: {conversation_id}/{user_id or support}/{uuid}-{safe_file_name} (support: staff handling the conversation without being a member), nothing more.';
select parley_internal.restrict_function('parley_internal.is_chat_upload_name(text, uuid)', '{}');

create or replace function parley_internal.can_upload_chat_file(name text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_chat_upload_name(can_upload_chat_file.name, can_upload_chat_file.user_id)
     and parley_internal.can_post_in_conversation(
           parley_internal.chat_file_conversation_id(can_upload_chat_file.name), can_upload_chat_file.user_id)
$$;
comment on function parley_internal.can_upload_chat_file(text, uuid) is
  'storage.objects insert check for chat-files: the object is in the user''s own folder of a conversation where they may post, with the upload layout.';
select parley_internal.restrict_function('parley_internal.can_upload_chat_file(text, uuid)', '{service_role}');

create or replace function parley_internal.can_read_chat_file(name text, user_id uuid)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select can_read_chat_file.user_id is not null and exists (
    select 1 from public.attachments a
    where (a.object_name = can_read_chat_file.name or a.thumbnail_object_name = can_read_chat_file.name)
      and a.conversation_id = parley_internal.chat_file_conversation_id(can_read_chat_file.name)
      and a.status <> 'rejected'
      and case
            when a.message_id is null then a.uploader_id = can_read_chat_file.user_id
            -- Staff: only just after an audited read of the conversation (audited_visible_from).
            else a.message_id > parley_internal.audited_visible_from(a.conversation_id, can_read_chat_file.user_id)
          end
  )
$$;
comment on function parley_internal.can_read_chat_file(text, uuid) is
  'storage.objects select check for chat-files: the object (or thumbnail) belongs to an attachment the user can see: sent in a message they may read as a member (staff: within 15 minutes of an audited read), or their own upload not sent yet. Rejected files are never readable.';
select parley_internal.restrict_function('parley_internal.can_read_chat_file(text, uuid)', '{service_role}');

create or replace function parley_internal.my_chat_file_readable(name text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.can_read_chat_file(my_chat_file_readable.name, (select auth.uid()))
$$;
comment on function parley_internal.my_chat_file_readable(text) is
  'Policy helper (storage.objects select): whether the current user may read this chat-files object.';
select parley_internal.restrict_function('parley_internal.my_chat_file_readable(text)', '{authenticated}');

create or replace function parley_internal.my_chat_file_uploadable(name text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.can_upload_chat_file(my_chat_file_uploadable.name, (select auth.uid()))
$$;
comment on function parley_internal.my_chat_file_uploadable(text) is
  'Policy helper (storage.objects insert): whether the current user may upload this chat-files object.';
select parley_internal.restrict_function('parley_internal.my_chat_file_uploadable(text)', '{authenticated}');

create or replace function parley_internal.my_chat_file_moderated(name text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.is_conversation_moderator(parley_internal.chat_file_conversation_id(my_chat_file_moderated.name), (select auth.uid()))
$$;
comment on function parley_internal.my_chat_file_moderated(text) is
  'Policy helper (storage.objects delete): whether the current user moderates the conversation the chat-files object belongs to.';
select parley_internal.restrict_function('parley_internal.my_chat_file_moderated(text)', '{authenticated}');

-- -- RPCs -------------------------------------------------------------------

create or replace function parley_internal.create_attachment(object_name text, file_name text default null)
returns public.attachments
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
  conversation uuid;
  organization uuid;
  stored storage.objects;
  bucket storage.buckets;
  stored_size bigint;
  stored_type text;
  display_name text := coalesce(create_attachment.file_name,
                                pg_catalog.substr(storage.filename(create_attachment.object_name), 38));
  created public.attachments;
begin
  if caller is null then
    perform parley_internal.refuse('42501', 'unauthenticated', 'Sign in to upload files.', null);
  end if;
  if not parley_internal.is_chat_upload_name(create_attachment.object_name, caller) then
    perform parley_internal.refuse('P0001', 'invalid_object_name',
      'Chat files are stored at {conversation_id}/{folder}/{uuid}-{file name}; chat_upload_folder gives the folder.',
      'Upload the file into your own folder of the conversation first.');
  end if;
  display_name := pg_catalog.btrim(display_name);
  if display_name is null or pg_catalog.length(display_name) not between 1 and 255
     or display_name ~ '[[:cntrl:]/\\]' or display_name in ('.', '..') then
    perform parley_internal.refuse('P0001', 'invalid_file_name',
      'The file name must be 1 to 255 characters, without a path or control characters.', null);
  end if;

  conversation := parley_internal.chat_file_conversation_id(create_attachment.object_name);
  select c.organization_id into organization from public.conversations c where c.id = conversation;
  if organization is null or not parley_internal.can_read_conversation(conversation, caller) then
    perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
      'Check the conversation id; you must be able to read it.');
  end if;
  perform parley_internal.require_feature(organization, 'chat');
  if not parley_internal.can_post_in_conversation(conversation, caller) then
    perform parley_internal.refuse('42501', 'cannot_post', 'You cannot post in this conversation.',
      'Only members allowed to post can send files here.');
  end if;

  select * into stored from storage.objects o
  where o.bucket_id = 'chat-files' and o.name = create_attachment.object_name;
  if stored.id is null or coalesce(stored.owner_id, stored.owner::text) is distinct from caller::text then
    perform parley_internal.refuse('PT404', 'file_not_found', 'No such uploaded file.',
      'Upload the file to the chat-files bucket first.');
  end if;
  select * into bucket from storage.buckets b where b.id = 'chat-files';
  stored_size := (stored.metadata ->> 'size')::bigint;
  stored_type := stored.metadata ->> 'mimetype';
  if stored_size is null or stored_size <= 0 or stored_size > coalesce(bucket.file_size_limit, stored_size) then
    perform parley_internal.refuse('P0001', 'file_too_large',
      pg_catalog.format('Files may be at most %s bytes.', bucket.file_size_limit), null);
  end if;
  if stored_type is null or not (stored_type = any (coalesce(bucket.allowed_mime_types, array[stored_type]))) then
    perform parley_internal.refuse('P0001', 'type_not_allowed', 'This type of file cannot be sent.', null);
  end if;

  insert into public.attachments (conversation_id, uploader_id, object_name, file_name, content_type, size_bytes)
  values (conversation, caller, create_attachment.object_name, display_name, stored_type, stored_size)
  on conflict do nothing
  returning * into created;
  if created.id is null then
    perform parley_internal.refuse('PT409', 'attachment_exists', 'This file is already registered.',
      'Use the attachment id returned the first time.');
  end if;
  return created;
end
$$;
comment on function parley_internal.create_attachment(text, text) is
  'Register an uploaded chat file as an attachment (status uploaded) so a message can carry it. object_name is the storage.objects name in chat-files, {conversation_id}/{your id}/{uuid}-{safe_file_name}; file_name is the name to show (default: from object_name). Returns the attachment; pass its id to send_message(attachment_ids).';
select parley_internal.publish_function('parley_internal.create_attachment(text, text)'::regprocedure, '{authenticated}');

create or replace function parley_internal.delete_attachment(attachment_id uuid)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := (select auth.uid());
  found_row public.attachments;
begin
  if caller is null then
    perform parley_internal.refuse('42501', 'unauthenticated', 'Sign in to delete files.', null);
  end if;
  select * into found_row from public.attachments a
  where a.id = delete_attachment.attachment_id and a.uploader_id = caller
  for update;
  if found_row.id is null then
    perform parley_internal.refuse('PT404', 'attachment_not_found', 'No such attachment.',
      'Only the uploader can delete an attachment.');
  end if;
  if found_row.message_id is not null then
    perform parley_internal.refuse('PT409', 'attachment_attached', 'This file was sent with a message.',
      'Delete the message instead.');
  end if;
  delete from public.attachments a where a.id = found_row.id;
end
$$;
comment on function parley_internal.delete_attachment(uuid) is
  'Cancel an upload: delete your own attachment that was not sent yet; its file is deleted by the file worker.';
select parley_internal.publish_function('parley_internal.delete_attachment(uuid)'::regprocedure, '{authenticated}');

-- -- send_message hook ------------------------------------------------------

create or replace function parley_internal.claim_attachments(
  message_id bigint,
  conversation_id uuid,
  uploader_id uuid,
  attachment_ids uuid[]
)
returns void
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  wanted integer := coalesce(pg_catalog.cardinality(claim_attachments.attachment_ids), 0);
  max_attachments constant integer := 10;
  found_count integer;
  attached_elsewhere integer;
  rejected integer;
begin
  if wanted = 0 then
    return;
  end if;
  if wanted > max_attachments then
    perform parley_internal.refuse('P0001', 'too_many_attachments',
      pg_catalog.format('A message can carry at most %s files.', max_attachments), 'Send the rest in another message.');
  end if;
  if pg_catalog.array_position(claim_attachments.attachment_ids, null) is not null
     or (select pg_catalog.count(distinct id) from pg_catalog.unnest(claim_attachments.attachment_ids) as u(id)) <> wanted then
    perform parley_internal.refuse('P0001', 'invalid_attachment_ids',
      'attachment_ids must not contain nulls or repeats.', null);
  end if;
  if not exists (select 1 from public.messages m
                 where m.id = claim_attachments.message_id and m.conversation_id = claim_attachments.conversation_id) then
    raise exception 'claim_attachments: message % is not in conversation %',
      claim_attachments.message_id, claim_attachments.conversation_id using errcode = '22023';
  end if;

  -- Lock in id order (no deadlocks between concurrent sends), then check everything before writing.
  perform 1 from public.attachments a
  where a.id = any (claim_attachments.attachment_ids)
    and a.uploader_id = claim_attachments.uploader_id
    and a.conversation_id = claim_attachments.conversation_id
  order by a.id
  for update;
  select pg_catalog.count(*)::integer,
         pg_catalog.count(*) filter (where a.message_id is not null and a.message_id <> claim_attachments.message_id)::integer,
         pg_catalog.count(*) filter (where a.status = 'rejected')::integer
    into found_count, attached_elsewhere, rejected
  from public.attachments a
  where a.id = any (claim_attachments.attachment_ids)
    and a.uploader_id = claim_attachments.uploader_id
    and a.conversation_id = claim_attachments.conversation_id;
  if found_count <> wanted then
    perform parley_internal.refuse('PT404', 'attachment_not_found',
      'One or more files do not exist, or were not uploaded by you to this conversation.',
      'Upload the file to this conversation first.');
  end if;
  if attached_elsewhere > 0 then
    perform parley_internal.refuse('PT409', 'attachment_already_attached',
      'A file was already sent with another message.', 'Upload the file again to send it again.');
  end if;
  if rejected > 0 then
    perform parley_internal.refuse('PT409', 'attachment_rejected', 'A file was rejected and cannot be sent.',
      'See the attachment''s rejection_reason.');
  end if;

  -- Files already on this message (a retried call) are left as they are.
  update public.attachments a
     set message_id = claim_attachments.message_id,
         position = (pg_catalog.array_position(claim_attachments.attachment_ids, a.id) - 1)::smallint,
         attached_at = pg_catalog.now()
   where a.id = any (claim_attachments.attachment_ids) and a.message_id is null;
  -- Files staff uploaded as Support: once the customer can see them, nothing names the staff user
  -- (issue 12): no owner on their storage.objects rows, no uploader on the attachment.
  update storage.objects o set owner = null, owner_id = null
  from public.attachments a
  where a.id = any (claim_attachments.attachment_ids)
    and (storage.foldername(a.object_name))[2] = 'support'
    and o.bucket_id = a.bucket_id and o.name in (a.object_name, a.thumbnail_object_name);
  update public.attachments a set uploader_id = null
  where a.id = any (claim_attachments.attachment_ids) and (storage.foldername(a.object_name))[2] = 'support';
end
$$;
comment on function parley_internal.claim_attachments(bigint, uuid, uuid, uuid[]) is
  'send_message hook: attach the uploader''s files (at most 10, uploaded to this conversation, not sent yet, not rejected) to the new message, in the given order. Refuses before writing: P0001 too_many_attachments / invalid_attachment_ids, PT404 attachment_not_found, PT409 attachment_already_attached / attachment_rejected. Calling it again for the same message is a no-op.';
select parley_internal.restrict_function('parley_internal.claim_attachments(bigint, uuid, uuid, uuid[])', '{}');

-- -- deletion triggers -------------------------------------------------------

create or replace function parley_internal.queue_deleted_attachment_files()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  insert into parley_internal.file_deletions (bucket_id, object_name, reason)
  select g.bucket_id, n.name, 'attachment_deleted'
  from gone g
  cross join lateral (values (g.object_name), (g.thumbnail_object_name)) as n(name)
  where n.name is not null;
  return null;
end
$$;
comment on function parley_internal.queue_deleted_attachment_files() is
  'Trigger: queue the files (object and thumbnail) of deleted attachment rows for the file worker to delete.';
select parley_internal.restrict_function('parley_internal.queue_deleted_attachment_files()', '{}');

drop trigger if exists attachments_queue_file_deletions on public.attachments;
create trigger attachments_queue_file_deletions after delete on public.attachments
  referencing old table as gone
  for each statement execute function parley_internal.queue_deleted_attachment_files();

create or replace function parley_internal.delete_attachments_of_tombstoned_message()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
begin
  delete from public.attachments a where a.message_id = new.id;
  return null;
end
$$;
comment on function parley_internal.delete_attachments_of_tombstoned_message() is
  'Trigger: a message deleted for everyone (tombstone) loses its files too: their attachment rows go now, their bytes are queued for the file worker.';
select parley_internal.restrict_function('parley_internal.delete_attachments_of_tombstoned_message()', '{}');

drop trigger if exists messages_delete_attachments_on_tombstone on public.messages;
create trigger messages_delete_attachments_on_tombstone after update of deleted_at on public.messages
  for each row when (old.deleted_at is null and new.deleted_at is not null)
  execute function parley_internal.delete_attachments_of_tombstoned_message();
