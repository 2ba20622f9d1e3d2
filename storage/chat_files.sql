-- Parley's storage buckets (re-appliable: upserts, applied again when changed).
--
-- chat-files: private; every chat attachment lives at
--   {conversation_id}/{user_id}/{uuid}-{safe_file_name}
-- and is downloaded only through short-lived signed URLs. 10 MiB per file and
-- a MIME allow-list (seed 003); the real type is sniffed from the bytes by
-- parley.storage before anything is written.
-- avatars: public profile pictures, images only, 2 MiB.
--
-- storage.objects policies for chat-files (Supabase style: to authenticated,
-- (select auth.uid()), helpers in parley_internal, see functions/attachments.sql):
--   select  the object (or its thumbnail) belongs to an attachment the user can
--           see: sent in a message they may read, or their own unsent upload;
--           never a rejected file. Strangers see nothing, not even names.
--   insert  only {conversation_id}/{auth.uid()}/{uuid}-{safe_file_name}, in a
--           conversation where the user may post, with owner_id = the user.
--           Thumbnails ({...}/thumbnails/...) are written by the file worker only.
--   delete  the owner, or a moderator of the conversation.
--   update  nobody (no upsert: every upload is a new object).
--
-- supabase/config.toml [storage.buckets.*] declares the same buckets for the
-- Supabase CLI, and python/parley/storage/buckets.py for the upload path;
-- tests/test_storage_buckets.py checks that all three agree.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values
  (
    'chat-files', 'chat-files', false, 10485760,
    array[
      'image/jpeg', 'image/png', 'image/gif', 'image/webp', 'image/heic',
      'audio/mpeg', 'audio/mp4', 'audio/aac', 'audio/x-m4a', 'audio/ogg', 'audio/opus', 'audio/webm',
      'audio/wav', 'audio/x-wav',
      'video/mp4', 'video/webm', 'video/quicktime',
      'application/pdf',
      'application/msword',
      'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
      'application/vnd.ms-excel',
      'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
      'application/vnd.ms-powerpoint',
      'application/vnd.openxmlformats-officedocument.presentationml.presentation',
      'application/vnd.oasis.opendocument.text',
      'application/vnd.oasis.opendocument.spreadsheet',
      'application/vnd.oasis.opendocument.presentation',
      'text/plain'
    ]::text[]
  ),
  (
    'avatars', 'avatars', true, 2097152,
    array['image/jpeg', 'image/png', 'image/gif', 'image/webp']::text[]
  )
on conflict (id) do update
  set name = excluded.name,
      public = excluded.public,
      file_size_limit = excluded.file_size_limit,
      allowed_mime_types = excluded.allowed_mime_types,
      updated_at = now();

drop policy if exists chat_files_select on storage.objects;
create policy chat_files_select on storage.objects for select to authenticated
  using (bucket_id = 'chat-files' and parley_internal.my_chat_file_readable(name));

drop policy if exists chat_files_insert on storage.objects;
create policy chat_files_insert on storage.objects for insert to authenticated
  with check (bucket_id = 'chat-files'
              and owner_id = (select auth.uid())::text
              and parley_internal.my_chat_file_uploadable(name));

drop policy if exists chat_files_delete on storage.objects;
create policy chat_files_delete on storage.objects for delete to authenticated
  using (bucket_id = 'chat-files'
         and (owner_id = (select auth.uid())::text
              or parley_internal.my_chat_file_moderated(name)));
