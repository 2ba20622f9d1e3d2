-- The audit trail (issue 5; seed 002 "audit logging", "admin override").
--
-- public.audit_log          append-only, one row per security-relevant change
--                           or staff read. Written only by the SECURITY DEFINER
--                           trigger functions in functions/audit.sql; no API
--                           role (service_role included) may insert, update or
--                           delete, and a guard trigger refuses UPDATE, DELETE
--                           and TRUNCATE even to the table owner.
-- parley_internal.audit_chain_heads
--                           the head of every hash chain: last sequence number
--                           and hash. Writers lock the head row (serializing
--                           one chain, never two chains), so concurrent writers
--                           cannot fork a chain; verify compares the last entry
--                           with the head, which catches a deleted tail.
-- parley_internal.audit_staff_reads
--                           when a staff user last left a conversation.staff_read
--                           entry for a conversation (one entry per staff user
--                           per conversation per 10 minutes).
--
-- Chains. Every entry belongs to exactly one chain and carries
--   hash = sha256(hash of the chain's previous entry || canonical content)
-- with chain_seq counting 1, 2, 3... inside the chain:
--   organization:<id>  every entry about an organization (organization_id set);
--   user:<id>          user-level entries (privacy settings, blocks) of that user;
--   global             the default role -> permission map (role_permissions).
-- See docs/audit.md.

create table if not exists public.audit_log (
  id bigint generated always as identity primary key,
  chain text not null check (chain ~ '^(organization:[0-9a-f-]{36}|user:[0-9a-f-]{36}|global)$'),
  chain_seq bigint not null check (chain_seq >= 1),
  organization_id uuid,
  subject_user_id uuid,
  actor_id uuid,
  actor_role text not null,
  persona_id uuid,
  ip inet,
  user_agent text,
  occurred_at timestamptz not null default pg_catalog.now(),
  action text not null check (action ~ '^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$'),
  table_name text not null,
  object_id text,
  old_values jsonb,
  new_values jsonb,
  hash bytea not null check (pg_catalog.length(hash) = 32),
  constraint audit_log_chain_seq_key unique (chain, chain_seq),
  constraint audit_log_chain_matches check (
    (organization_id is not null and chain = 'organization:' || organization_id::text)
    or (organization_id is null and subject_user_id is not null and chain = 'user:' || subject_user_id::text)
    or (organization_id is null and subject_user_id is null and chain = 'global'))
);
-- Staff read their organization's log newest first; verify walks a chain by chain_seq (the unique key).
create index if not exists audit_log_organization_id_idx on public.audit_log (organization_id, id);
create index if not exists audit_log_subject_user_id_idx on public.audit_log (subject_user_id, id);
comment on table public.audit_log is 'Append-only audit trail: membership, role, permission, plan and settings changes, message edits and deletions, persona and notice sends, support assignment, privacy changes, blocks, and staff reads of conversations they are not a member of. Hash-chained per organization (verify_audit_log). Staff with chat.audit_read read their organization''s entries.';
comment on column public.audit_log.id is 'Entry id (increasing).';
comment on column public.audit_log.chain is 'The hash chain of the entry: organization:<id>, user:<id> (privacy settings and blocks of that user) or global (the default permission map).';
comment on column public.audit_log.chain_seq is 'Position in its chain: 1, 2, 3... without gaps.';
comment on column public.audit_log.organization_id is 'The organization the entry is about; null for user-level and global entries. Not a foreign key: the trail outlives the organization.';
comment on column public.audit_log.subject_user_id is 'For user-level entries (privacy settings, blocks): the user whose chain it is; null otherwise.';
comment on column public.audit_log.actor_id is 'The user who acted (auth.uid() of the request); null for service_role, migrations and the database owner.';
comment on column public.audit_log.actor_role is 'The acting role: the JWT role (authenticated, service_role) or, outside the API, the database role.';
comment on column public.audit_log.persona_id is 'The persona the actor acted as, if any.';
comment on column public.audit_log.ip is 'Client address: the first x-forwarded-for address, else x-real-ip, from the request headers; null if absent or malformed.';
comment on column public.audit_log.user_agent is 'The request''s User-Agent header (first 512 characters), or null.';
comment on column public.audit_log.occurred_at is 'When (the transaction''s time).';
comment on column public.audit_log.action is 'What happened, as entity.verb: organization_member.role_change, message.edit, conversation.staff_read, ...';
comment on column public.audit_log.table_name is 'The table changed (schema-qualified), or the object read.';
comment on column public.audit_log.object_id is 'The changed row''s key as text (composite keys joined with /).';
comment on column public.audit_log.old_values is 'Before: the whole row for deletions, the changed columns for updates; secrets (invitation token hashes) left out.';
comment on column public.audit_log.new_values is 'After: the whole row for insertions, the changed columns for updates; secrets left out.';
comment on column public.audit_log.hash is 'sha256(previous entry''s hash in the chain || canonical content); see docs/audit.md.';

alter table public.audit_log enable row level security;
revoke all on table public.audit_log from anon, authenticated, service_role;
grant select on table public.audit_log to authenticated, service_role;
revoke all on sequence public.audit_log_id_seq from anon, authenticated, service_role;

create table if not exists parley_internal.audit_chain_heads (
  chain text primary key,
  last_seq bigint not null default 0 check (last_seq >= 0),
  last_hash bytea not null default '\x'::bytea,
  last_id bigint,
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table parley_internal.audit_chain_heads is 'Head of every audit hash chain (last chain_seq, hash and entry id). Writers lock the row to append; verify compares it with the chain''s last entry. Never exposed.';

create table if not exists parley_internal.audit_staff_reads (
  conversation_id uuid not null,
  user_id uuid not null,
  recorded_at timestamptz not null,
  primary key (conversation_id, user_id)
);
comment on table parley_internal.audit_staff_reads is 'When a staff user last got a conversation.staff_read audit entry for a conversation (rate limit of those entries). Never exposed.';

alter table parley_internal.audit_chain_heads enable row level security;
alter table parley_internal.audit_staff_reads enable row level security;
revoke all on table parley_internal.audit_chain_heads, parley_internal.audit_staff_reads
  from anon, authenticated, service_role;
