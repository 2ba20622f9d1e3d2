-- The foreign key inbox_entries (conversation_id, user_id) -> conversation_members
-- gets an index in the same column order (splinter: unindexed_foreign_keys).
--
-- The primary key is (user_id, conversation_id), which serves one member's
-- inbox; per-conversation work (a member leaving or a conversation deleted,
-- cascading here; fan-out over a conversation's members) looks rows up by
-- conversation_id first, which that key cannot do without a full scan.

create index if not exists inbox_entries_conversation_id_user_id_idx
  on public.inbox_entries (conversation_id, user_id);

comment on index public.inbox_entries_conversation_id_user_id_idx is
  'Covers the foreign key to conversation_members (conversation_id, user_id): cascades and per-conversation lookups.';
