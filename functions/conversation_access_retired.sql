-- Retired policy helpers (issue 13). The conversations, roster, messages,
-- attachments, calls and retention policies used to build per-statement sets
-- of the reader's conversations through these SQL SECURITY DEFINER helpers;
-- they now probe parley_internal.my_memberships per row
-- (functions/conversation_access.sql). A database upgraded from before keeps
-- the old functions until this file drops them; it runs after the last policy
-- file that used them (policies/retention.sql), so no policy depends on them
-- any more. On a fresh database they never existed: every drop is "if exists".
-- No cascade: a forgotten dependent fails the migration instead of losing a
-- policy.

drop function if exists parley_internal.my_conversation_ids();
drop function if exists parley_internal.my_fully_visible_conversation_ids();
drop function if exists parley_internal.my_history_cut_offs();
drop function if exists parley_internal.my_member_can_read_message(bigint);
drop function if exists parley_internal.my_member_can_read_viewable_message(bigint);
drop function if exists parley_internal.member_can_read_message(bigint, uuid);
drop function if exists parley_internal.member_readable_conversation_ids(uuid);
drop function if exists parley_internal.chat_view_everywhere(uuid);
