-- Send-path rate limits without a WAL record per send (issue 13).
--
-- send_allowances and slow_mode_sends are written by every counted send (one
-- upsert each, functions/message_limits.sql). As ordinary tables each upsert
-- wrote a WAL record (and a full-page image after every checkpoint) that the
-- commit had to flush with the message. Unlogged, they are written in shared
-- buffers only: the check stays one atomic statement on the sender's own row
-- (same row lock, same PT429 rate_limited and slow_mode), the WAL carries
-- only the message.
--
-- The trade: PostgreSQL empties unlogged tables after a crash (not after a
-- clean shutdown or restart), so after a crash every bucket starts full
-- (send_burst) and every slow-mode clock starts over. A limit that may be
-- lenient once after a crash is acceptable for a rate limit; nothing else
-- reads these tables. They are not replicated to standbys either (a
-- promoted standby starts with full buckets too). docs/messages.md.

alter table parley_internal.send_allowances set unlogged;
alter table parley_internal.slow_mode_sends set unlogged;
