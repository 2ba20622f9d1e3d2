-- Per-organization chat settings: message size and send rate limits.
-- One row per organization, created with it (trigger in
-- functions/organization_settings.sql); readers fall back to the column
-- defaults if a row is missing.

create table if not exists public.organization_settings (
  organization_id uuid primary key references public.organizations (id) on delete cascade,
  max_message_length integer not null default 5000 check (max_message_length between 1 and 100000),
  send_rate_per_minute integer not null default 120 check (send_rate_per_minute between 1 and 100000),
  send_burst integer not null default 30 check (send_burst between 1 and 10000),
  edit_window_seconds integer check (edit_window_seconds is null or edit_window_seconds between 0 and 31536000),
  updated_at timestamptz not null default pg_catalog.now()
);
comment on table public.organization_settings is 'Chat settings of an organization: message length limit and per-user send rate limit. Owners and admins change them.';
comment on column public.organization_settings.organization_id is 'The organization.';
comment on column public.organization_settings.max_message_length is 'Longest message body in characters (default 5000, seed 003).';
comment on column public.organization_settings.send_rate_per_minute is 'Per-user sustained send rate: messages per minute refilled into the user''s allowance.';
comment on column public.organization_settings.send_burst is 'Per-user burst: how many messages a user may send at once before the rate applies.';
comment on column public.organization_settings.edit_window_seconds is 'How long after sending an author may edit a message; null means no limit.';
comment on column public.organization_settings.updated_at is 'When the settings last changed.';

alter table public.organization_settings enable row level security;
revoke all on table public.organization_settings from anon, authenticated, service_role;
grant select on table public.organization_settings to authenticated;
grant update (max_message_length, send_rate_per_minute, send_burst, edit_window_seconds)
  on table public.organization_settings to authenticated;
grant select, insert, update, delete on table public.organization_settings to service_role;

insert into public.organization_settings (organization_id)
select o.id from public.organizations o
on conflict (organization_id) do nothing;
