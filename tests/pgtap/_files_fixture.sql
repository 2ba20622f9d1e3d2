-- Included (\ir) by the attachment and storage-policy pgTAP files, after
-- _identity_fixture.sql; not a test file itself. Runs as the database owner
-- inside the including file's transaction (rolled back with it).
--
-- Organization "Files" (plan chat): f_owner (owner), f_admin (admin, not in
-- the conversation, a moderator by the chat.moderate permission),
-- f_uploader, f_member and f_outsider (members; f_outsider is not in the
-- conversation). Group conversation F: f_owner (owner), f_uploader, f_member.
-- Files of f_uploader in F: "sent" (attached to a message, ready, with a
-- thumbnail) and "unsent" (uploaded, not attached). "loose" is an object of
-- f_member with no attachment row yet (for create_attachment). Strangers and
-- the other organization's admin come from _identity_fixture.sql.

select tests.create_user(name) from unnest(array['f_owner', 'f_admin', 'f_uploader', 'f_member', 'f_outsider']) as name;

insert into public.organizations (id, name, created_by)
values ('0a000000-0000-4000-8000-0000000000f0', 'Files', tests.user_id('f_owner'));
insert into public.organization_members (organization_id, user_id, role) values
  ('0a000000-0000-4000-8000-0000000000f0', tests.user_id('f_owner'), 'owner'),
  ('0a000000-0000-4000-8000-0000000000f0', tests.user_id('f_admin'), 'admin'),
  ('0a000000-0000-4000-8000-0000000000f0', tests.user_id('f_uploader'), 'member'),
  ('0a000000-0000-4000-8000-0000000000f0', tests.user_id('f_member'), 'member'),
  ('0a000000-0000-4000-8000-0000000000f0', tests.user_id('f_outsider'), 'member');
insert into public.conversations (id, organization_id, kind, title, created_by)
values ('0c000000-0000-4000-8000-0000000000f1', '0a000000-0000-4000-8000-0000000000f0', 'group', 'F',
        tests.user_id('f_owner'));
insert into public.conversation_members (conversation_id, user_id, role) values
  ('0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_owner'), 'owner'),
  ('0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_uploader'), 'member'),
  ('0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_member'), 'member');

-- The storage.objects name of each fixture file, by key.
create or replace function tests.file(key text)
returns text
language sql
stable
security definer
as $$
  select case key
    when 'sent' then '0c000000-0000-4000-8000-0000000000f1/' || tests.user_id('f_uploader')
                     || '/0d000000-0000-4000-8000-000000000001-photo.png'
    when 'thumbnail' then '0c000000-0000-4000-8000-0000000000f1/' || tests.user_id('f_uploader')
                          || '/thumbnails/0e000000-0000-4000-8000-000000000001.jpg'
    when 'unsent' then '0c000000-0000-4000-8000-0000000000f1/' || tests.user_id('f_uploader')
                       || '/0d000000-0000-4000-8000-000000000002-draft.pdf'
    when 'loose' then '0c000000-0000-4000-8000-0000000000f1/' || tests.user_id('f_member')
                      || '/0d000000-0000-4000-8000-000000000003-notes.txt'
    when 'stranger_loose' then '0c000000-0000-4000-8000-0000000000f1/' || tests.user_id('i_stranger')
                               || '/0d000000-0000-4000-8000-000000000004-x.txt'
  end
$$;
grant execute on function tests.file(text) to anon, authenticated, service_role;

-- A name in the acting user's own folder of F (what a client uploading there would use).
create or replace function tests.own_file(folder_conversation uuid default '0c000000-0000-4000-8000-0000000000f1')
returns text
language sql
volatile
as $$
  select folder_conversation || '/' || coalesce((select auth.uid())::text, 'nobody') || '/'
         || gen_random_uuid() || '-new.png'
$$;
grant execute on function tests.own_file(uuid) to anon, authenticated, service_role;

insert into storage.objects (bucket_id, name, owner, owner_id, metadata)
select 'chat-files', tests.file(key), tests.user_id(owner_name), tests.user_id(owner_name)::text,
       jsonb_build_object('size', 100, 'mimetype', mimetype)
from (values ('sent', 'f_uploader', 'image/png'), ('thumbnail', 'f_uploader', 'image/jpeg'),
             ('unsent', 'f_uploader', 'application/pdf'), ('loose', 'f_member', 'text/plain'),
             ('stranger_loose', 'i_stranger', 'text/plain')) as f(key, owner_name, mimetype);

insert into public.messages (conversation_id, sender_kind, sender_id, kind, body)
values ('0c000000-0000-4000-8000-0000000000f1', 'user', tests.user_id('f_uploader'), 'image', 'look');

insert into public.attachments (id, conversation_id, uploader_id, object_name, file_name, content_type, size_bytes,
                                status, processed_at, checksum_sha256, width, height, thumbnail_object_name)
values ('0e000000-0000-4000-8000-000000000001', '0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_uploader'),
        tests.file('sent'), 'photo.png', 'image/png', 100, 'ready', now(), repeat('a', 64), 10, 10,
        tests.file('thumbnail')),
       ('0e000000-0000-4000-8000-000000000002', '0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_uploader'),
        tests.file('unsent'), 'draft.pdf', 'application/pdf', 100, 'uploaded', null, null, null, null, null);
select parley_internal.claim_attachments(
  (select max(id) from public.messages where conversation_id = '0c000000-0000-4000-8000-0000000000f1'),
  '0c000000-0000-4000-8000-0000000000f1', tests.user_id('f_uploader'), array['0e000000-0000-4000-8000-000000000001']::uuid[]);
