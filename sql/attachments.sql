-- Attachments: the files a message can carry (issue 6).
--
-- attachments                      one row per uploaded chat file, in the
--                                  private chat-files bucket at
--                                  {conversation_id}/{uploader_id}/{uuid}-{safe_file_name}.
--                                  Created (status uploaded) by create_attachment
--                                  in the upload's request transaction; attached
--                                  to a message by send_message (claim_attachments);
--                                  verified by the file worker (ready or rejected).
-- parley_internal.file_deletions   objects whose bytes the file worker must delete
--                                  (and whose storage.objects rows it removes): queued
--                                  when an attachment row goes (orphan sweep, message
--                                  tombstoned or hard-deleted, conversation deleted,
--                                  upload cancelled) or is rejected. Deleting bytes is
--                                  never done inside a user's transaction.
--
-- uploader_id has no foreign key (like messages.sender_id): a deleted user's
-- attached files stay with their messages; their unattached uploads are swept
-- as orphans. message_id cascades: a hard-deleted message takes its attachment
-- rows, and their files are queued for deletion by a trigger.

create table if not exists public.attachments (
  id uuid primary key default gen_random_uuid(),
  conversation_id uuid not null references public.conversations (id) on delete cascade,
  uploader_id uuid not null,
  bucket_id text not null default 'chat-files' check (bucket_id = 'chat-files'),
  object_name text not null check (pg_catalog.length(object_name) between 1 and 1024),
  file_name text not null check (pg_catalog.length(file_name) between 1 and 255),
  content_type text not null check (pg_catalog.length(content_type) between 3 and 255),
  size_bytes bigint not null check (size_bytes > 0),
  checksum_sha256 text check (checksum_sha256 ~ '^[0-9a-f]{64}$'),
  width integer check (width > 0),
  height integer check (height > 0),
  duration_ms bigint check (duration_ms >= 0),
  thumbnail_object_name text check (pg_catalog.length(thumbnail_object_name) between 1 and 1024),
  status text not null default 'uploaded' check (status in ('uploaded', 'ready', 'rejected')),
  rejection_reason text check (rejection_reason ~ '^[a-z][a-z0-9_]{0,62}$'),
  message_id bigint references public.messages (id) on delete cascade,
  position smallint check (position between 0 and 99),
  created_at timestamptz not null default pg_catalog.now(),
  attached_at timestamptz,
  processed_at timestamptz,
  constraint attachments_rejected_has_reason check ((status = 'rejected') = (rejection_reason is not null)),
  constraint attachments_attached_fields check (
    (message_id is null) = (position is null) and (message_id is null) = (attached_at is null)),
  constraint attachments_processed_at check ((status = 'uploaded') = (processed_at is null)),
  constraint attachments_dimensions check ((width is null) = (height is null))
);
create unique index if not exists attachments_object_name_key on public.attachments (object_name);
create index if not exists attachments_conversation_id_idx on public.attachments (conversation_id, message_id);
create index if not exists attachments_message_id_idx on public.attachments (message_id, position);
create index if not exists attachments_uploader_id_idx on public.attachments (uploader_id, created_at);
-- The file worker's queue: new uploads, oldest first.
create index if not exists attachments_queue_idx on public.attachments (created_at) where status = 'uploaded';
-- The orphan sweep: never attached, oldest first.
create index if not exists attachments_unattached_idx on public.attachments (created_at) where message_id is null;
-- storage.objects policies find a thumbnail's attachment by name.
create index if not exists attachments_thumbnail_object_name_idx on public.attachments (thumbnail_object_name)
  where thumbnail_object_name is not null;

comment on table public.attachments is 'Chat files: one row per upload to the chat-files bucket. Visible to readers of the conversation once attached to a message they can see, and to the uploader before that. Create with create_attachment (the upload path does), attach with send_message(attachment_ids), cancel with delete_attachment; the file worker verifies them.';
comment on column public.attachments.id is 'Attachment id; pass it in send_message(attachment_ids).';
comment on column public.attachments.conversation_id is 'The conversation the file was uploaded to (the first folder of object_name); it can only be sent there.';
comment on column public.attachments.uploader_id is 'Who uploaded it (the second folder of object_name); only they can attach it.';
comment on column public.attachments.bucket_id is 'The storage bucket: always chat-files.';
comment on column public.attachments.object_name is 'The storage.objects name: {conversation_id}/{uploader_id}/{uuid}-{safe_file_name}. Download it through a signed URL.';
comment on column public.attachments.file_name is 'The file name to show (the name the uploader gave, without any path).';
comment on column public.attachments.content_type is 'The MIME type detected from the bytes (never the client''s claim).';
comment on column public.attachments.size_bytes is 'Size in bytes.';
comment on column public.attachments.checksum_sha256 is 'SHA-256 of the bytes (hex), set by the file worker; null until processed.';
comment on column public.attachments.width is 'Image width in pixels (as displayed, EXIF orientation applied); null for other files or until processed.';
comment on column public.attachments.height is 'Image height in pixels; null for other files or until processed.';
comment on column public.attachments.duration_ms is 'Audio or video duration in milliseconds when it can be read cheaply; null otherwise.';
comment on column public.attachments.thumbnail_object_name is 'storage.objects name of a JPEG thumbnail (at most 320 px a side) for images; null otherwise.';
comment on column public.attachments.status is 'uploaded (not yet verified), ready (verified by the file worker) or rejected (see rejection_reason; the file is deleted).';
comment on column public.attachments.rejection_reason is 'Why the file worker rejected the file (e.g. type_mismatch, object_missing, size_mismatch, corrupt_image); null unless rejected.';
comment on column public.attachments.message_id is 'The message carrying the file; null until sent. Set only by send_message.';
comment on column public.attachments.position is 'Order of the file within its message (0 first); null until sent.';
comment on column public.attachments.created_at is 'When the file was uploaded.';
comment on column public.attachments.attached_at is 'When the file was sent with a message; null until then.';
comment on column public.attachments.processed_at is 'When the file worker verified or rejected it; null until then.';

alter table public.attachments enable row level security;
revoke all on table public.attachments from anon, authenticated, service_role;
grant select on table public.attachments to authenticated;
grant select, insert, update, delete on table public.attachments to service_role;

create table if not exists parley_internal.file_deletions (
  id bigint generated always as identity primary key,
  bucket_id text not null,
  object_name text not null,
  reason text not null,
  queued_at timestamptz not null default pg_catalog.now()
);
create index if not exists file_deletions_object_name_idx on parley_internal.file_deletions (object_name);
comment on table parley_internal.file_deletions is 'Objects the file worker must delete (bytes in the storage backend and their storage.objects rows). Never exposed.';
comment on column parley_internal.file_deletions.id is 'Queue order.';
comment on column parley_internal.file_deletions.bucket_id is 'The bucket.';
comment on column parley_internal.file_deletions.object_name is 'The object''s name (key) in the bucket.';
comment on column parley_internal.file_deletions.reason is 'Why: attachment_deleted, rejected or unregistered.';
comment on column parley_internal.file_deletions.queued_at is 'When it was queued.';

alter table parley_internal.file_deletions enable row level security;
revoke all on table parley_internal.file_deletions from anon, authenticated, service_role;
revoke all on sequence parley_internal.file_deletions_id_seq from anon, authenticated, service_role;
