-- Attachments: a reader of the conversation sees the files of the messages
-- they can see (from their visibility cut-off on, like messages); the
-- uploader also sees their own files not sent yet. No write policies: create
-- with create_attachment, attach with send_message, cancel with
-- delete_attachment (the table grants API roles SELECT only).

drop policy if exists attachments_select on public.attachments;
create policy attachments_select on public.attachments for select to authenticated
  using (
    (message_id is null and uploader_id = (select auth.uid()))
    or (message_id is not null
        and (conversation_id in (select parley_internal.my_fully_visible_conversation_ids())
             or message_id > parley_internal.my_content_visible_from(conversation_id)))
  );
