-- Compliance mode, per organization, off by default (issue 12 part 3, seed 002).
--
-- Parley's default stays: staff read only the support, persona and notices
-- conversations they handle. An owner may switch compliance mode on
-- (set_compliance_mode, functions/compliance.sql): holders of
-- chat.audit_read may then read any conversation of the organization through
-- get_messages (every read audited, like staff reads), every send lands in
-- the audit chain (edits and deletions always do), and members are told on
-- the conversation row and in get_inbox.

alter table public.organization_settings
  add column if not exists compliance_mode boolean not null default false;
comment on column public.organization_settings.compliance_mode is 'Compliance mode: the organization archives messages. Holders of chat.audit_read may read (audited) and export any conversation; every send is audited. Owners switch it with set_compliance_mode.';

alter table public.conversations
  add column if not exists archived_by_organization boolean not null default false;
comment on column public.conversations.archived_by_organization is 'True while the organization runs in compliance mode: its auditors may read and export this conversation, and every message is recorded in the audit log. Show members a notice.';
