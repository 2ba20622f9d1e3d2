-- Data-subject rights (issue 18): export and erasure. See docs/data-rights.md.
--
-- organization_settings.keep_messages_on_erasure
--     an organization under a retention obligation (financial services,
--     healthcare, public bodies) keeps an erased user's messages as they are
--     (their author becomes an anonymised profile); otherwise erasure turns
--     them into tombstones.
-- parley_internal.user_erasures
--     one row per erased user: when, what triggered it, what was erased. It
--     holds no personal data (ids and counts) and outlives the user.

alter table public.organization_settings
  add column if not exists keep_messages_on_erasure boolean not null default false;
comment on column public.organization_settings.keep_messages_on_erasure is 'Data rights: keep an erased user''s messages (a legal retention obligation) instead of turning them into tombstones. Default false.';
grant update (keep_messages_on_erasure) on table public.organization_settings to authenticated;

create table if not exists parley_internal.user_erasures (
  user_id uuid primary key,
  first_erased_at timestamptz not null default pg_catalog.now(),
  last_erased_at timestamptz not null default pg_catalog.now(),
  source text not null check (source in ('erase_user', 'auth_user_deleted')),
  summary jsonb not null
);
comment on table parley_internal.user_erasures is 'Users erased by erase_user (or by deleting their auth.users row): when, why, and the counts of what was erased. No personal data; no foreign key (it outlives the user). Never exposed.';
alter table parley_internal.user_erasures enable row level security;
revoke all on table parley_internal.user_erasures from anon, authenticated, service_role;
