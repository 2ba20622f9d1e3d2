-- Moderation (issue 18): message reports and the moderation queue, bans and
-- mutes. See docs/moderation.md.
--
-- message_reports          one row per report of a message by a member who
--                          can read it. It keeps a copy of the message as it
--                          was reported (evidence), so a moderator deleting
--                          the message (a tombstone) or retention deleting
--                          it (message_id set null) leaves the evidence for
--                          the moderators. States: open, actioned,
--                          dismissed. Readable by holders of chat.moderate of
--                          the organization only; reporters follow their own
--                          reports through my_reports(), which never names
--                          the moderator unless the organization allows it.
-- moderation_restrictions  bans and mutes, organization-wide
--                          (conversation_id null) or for one conversation,
--                          each with an optional expiry. Active while
--                          lifted_at is null and expires_at is null or
--                          later than now. The send path probes it through
--                          the partial index on (user_id, organization_id)
--                          of unlifted rows: one index probe, no row for
--                          nearly every sender.
-- organization_settings.moderation_reveal_moderator
--                          whether reporters (and restricted users) are told
--                          which moderator acted (default false).

create table if not exists public.message_reports (
  id bigint generated always as identity primary key,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  conversation_id uuid references public.conversations (id) on delete set null,
  message_id bigint references public.messages (id) on delete set null,
  reporter_id uuid references auth.users (id) on delete set null,
  reported_user_id uuid,
  reason text not null check (reason in ('spam', 'harassment', 'hate', 'violence', 'sexual', 'self_harm',
                                         'illegal', 'misinformation', 'other')),
  note text check (note is null or pg_catalog.length(note) <= 1000),
  evidence jsonb not null check (pg_catalog.jsonb_typeof(evidence) = 'object'),
  status text not null default 'open' check (status in ('open', 'actioned', 'dismissed')),
  resolution_note text check (resolution_note is null or pg_catalog.length(resolution_note) <= 1000),
  resolved_by uuid,
  resolved_at timestamptz,
  created_at timestamptz not null default pg_catalog.now(),
  constraint message_reports_resolved check ((status = 'open') = (resolved_at is null))
);
-- One report per reporter per message (a second report returns the first).
create unique index if not exists message_reports_message_reporter_key on public.message_reports (message_id, reporter_id);
-- The queue: an organization's reports by state, oldest first.
create index if not exists message_reports_queue_idx on public.message_reports (organization_id, status, id);
create index if not exists message_reports_reporter_idx on public.message_reports (reporter_id, id);
create index if not exists message_reports_conversation_idx on public.message_reports (conversation_id);
create index if not exists message_reports_reported_user_idx on public.message_reports (reported_user_id);
comment on table public.message_reports is 'Reports of messages (the moderation queue): reason, the reporter''s note, a copy of the message as reported (evidence) and the state (open, actioned, dismissed). Holders of chat.moderate read their organization''s reports; reporters use report_message and my_reports.';
comment on column public.message_reports.id is 'Report id (increasing): page the queue by it.';
comment on column public.message_reports.organization_id is 'The organization whose moderators handle it.';
comment on column public.message_reports.conversation_id is 'The conversation of the reported message (null once the conversation is deleted).';
comment on column public.message_reports.message_id is 'The reported message (null once retention or erasure deleted it; the evidence stays).';
comment on column public.message_reports.reporter_id is 'Who reported (null once that user is erased).';
comment on column public.message_reports.reported_user_id is 'Who wrote the message: the sender, or the staff user behind a persona message.';
comment on column public.message_reports.reason is 'spam, harassment, hate, violence, sexual, self_harm, illegal, misinformation or other.';
comment on column public.message_reports.note is 'The reporter''s note (up to 1000 characters), or null.';
comment on column public.message_reports.evidence is 'The message as it was when reported: kind, body, metadata, sender, persona, times, attachments.';
comment on column public.message_reports.status is 'open, actioned (a moderator acted) or dismissed.';
comment on column public.message_reports.resolution_note is 'The moderator''s note on the resolution, or null.';
comment on column public.message_reports.resolved_by is 'The moderator who resolved it (never shown to the reporter unless the organization allows it).';
comment on column public.message_reports.resolved_at is 'When it was resolved; null while open.';
comment on column public.message_reports.created_at is 'When it was reported.';

create table if not exists public.moderation_restrictions (
  id bigint generated always as identity primary key,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  conversation_id uuid references public.conversations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  kind text not null check (kind in ('ban', 'mute')),
  reason text check (reason is null or pg_catalog.length(reason) <= 1000),
  report_id bigint references public.message_reports (id) on delete set null,
  expires_at timestamptz,
  created_by uuid,
  created_at timestamptz not null default pg_catalog.now(),
  lifted_at timestamptz,
  lifted_by uuid,
  constraint moderation_restrictions_mute_expires check (kind <> 'mute' or expires_at is not null),
  constraint moderation_restrictions_expires_after check (expires_at is null or expires_at > created_at)
);
-- The send path's probe: a user's unlifted restrictions in one organization.
create index if not exists moderation_restrictions_active_idx on public.moderation_restrictions
  (user_id, organization_id, conversation_id) where lifted_at is null;
-- At most one unlifted restriction of each kind per user and scope: a second ban replaces the first one's expiry.
create unique index if not exists moderation_restrictions_one_active_key on public.moderation_restrictions
  (organization_id, user_id, kind, coalesce(conversation_id, '00000000-0000-0000-0000-000000000000'::uuid))
  where lifted_at is null;
create index if not exists moderation_restrictions_user_idx on public.moderation_restrictions (user_id);
create index if not exists moderation_restrictions_organization_idx on public.moderation_restrictions
  (organization_id, id);
create index if not exists moderation_restrictions_conversation_idx on public.moderation_restrictions (conversation_id);
create index if not exists moderation_restrictions_report_idx on public.moderation_restrictions (report_id);
comment on table public.moderation_restrictions is 'Bans and mutes: organization-wide (conversation_id null: no sending anywhere in the organization) or one conversation (a ban also keeps the user from rejoining a group). Active while not lifted and not expired. Holders of chat.moderate read them; the restricted user uses my_restrictions.';
comment on column public.moderation_restrictions.id is 'Restriction id.';
comment on column public.moderation_restrictions.organization_id is 'The organization.';
comment on column public.moderation_restrictions.conversation_id is 'The conversation it applies to; null for the whole organization''s chat.';
comment on column public.moderation_restrictions.user_id is 'The restricted user.';
comment on column public.moderation_restrictions.kind is 'ban (no sending; a conversation ban also removes the user and keeps them out) or mute (no sending until it expires).';
comment on column public.moderation_restrictions.reason is 'Why (up to 1000 characters), or null.';
comment on column public.moderation_restrictions.report_id is 'The report that led to it, if any.';
comment on column public.moderation_restrictions.expires_at is 'When it ends by itself; null for a ban until lifted (mutes always expire).';
comment on column public.moderation_restrictions.created_by is 'The moderator who imposed it (never shown to the restricted user unless the organization allows it).';
comment on column public.moderation_restrictions.created_at is 'When it was imposed.';
comment on column public.moderation_restrictions.lifted_at is 'When a moderator lifted it early; null otherwise.';
comment on column public.moderation_restrictions.lifted_by is 'The moderator who lifted it.';

alter table public.message_reports enable row level security;
alter table public.moderation_restrictions enable row level security;
revoke all on table public.message_reports, public.moderation_restrictions from anon, authenticated, service_role;
grant select on table public.message_reports, public.moderation_restrictions to authenticated;
grant select, insert, update, delete on table public.message_reports, public.moderation_restrictions to service_role;
revoke all on sequence public.message_reports_id_seq, public.moderation_restrictions_id_seq
  from anon, authenticated, service_role;

alter table public.organization_settings
  add column if not exists moderation_reveal_moderator boolean not null default false;
comment on column public.organization_settings.moderation_reveal_moderator is 'Moderation: tell reporters and restricted users which moderator acted (default false: they never learn it).';
grant update (moderation_reveal_moderator) on table public.organization_settings to authenticated;
