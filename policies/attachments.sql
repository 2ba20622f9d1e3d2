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
        and ((exists (select 1 from parley_internal.my_memberships m
                      where m.conversation_id = attachments.conversation_id
                        and m.visible_from_message_id < attachments.message_id)
              and ((select parley_internal.my_chat_view_everywhere())
                   or parley_internal.my_can_view_chats(conversation_id)))
             -- Staff only just after an audited read (audited_visible_from).
             or ((select parley_internal.my_staff_anywhere())
                 and message_id > parley_internal.my_content_visible_from(conversation_id))))
  );
