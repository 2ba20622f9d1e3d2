-- Personas (seed 001 "fake users"): display identities of an organization
-- that authorized staff (chat.support_agent) act as. Who really acted is
-- recorded in persona_acts, visible to admins and auditors, never to the
-- other party.

create table if not exists public.personas (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  display_name text not null check (pg_catalog.length(pg_catalog.btrim(display_name)) between 1 and 80),
  avatar_url text check (avatar_url is null or avatar_url ~ '^https?://'),
  is_active boolean not null default true,
  created_at timestamptz not null default pg_catalog.now()
);
create index if not exists personas_organization_id_idx on public.personas (organization_id);
comment on table public.personas is 'Display identities (e.g. Support Team) that authorized staff act as; shows no real user.';
comment on column public.personas.id is 'Persona id.';
comment on column public.personas.organization_id is 'The organization the persona speaks for.';
comment on column public.personas.display_name is 'Name shown to users.';
comment on column public.personas.avatar_url is 'Avatar image URL, or null.';
comment on column public.personas.is_active is 'Inactive personas cannot be acted as.';
comment on column public.personas.created_at is 'When the persona was created.';

create table if not exists public.persona_acts (
  id bigint generated always as identity primary key,
  persona_id uuid not null references public.personas (id) on delete cascade,
  organization_id uuid not null references public.organizations (id) on delete cascade,
  acting_user_id uuid not null references auth.users (id) on delete cascade,
  action text not null check (action ~ '^[a-z][a-z0-9_.]{0,62}$'),
  subject_id uuid,
  acted_at timestamptz not null default pg_catalog.now()
);
create index if not exists persona_acts_persona_id_idx on public.persona_acts (persona_id, acted_at desc);
create index if not exists persona_acts_organization_id_idx on public.persona_acts (organization_id, acted_at desc);
create index if not exists persona_acts_acting_user_id_idx on public.persona_acts (acting_user_id);
comment on table public.persona_acts is 'Audit of which real staff user acted as which persona, when, doing what.';
comment on column public.persona_acts.id is 'Act id.';
comment on column public.persona_acts.persona_id is 'The persona acted as.';
comment on column public.persona_acts.organization_id is 'The persona''s organization (for admin and audit visibility).';
comment on column public.persona_acts.acting_user_id is 'The real staff user who acted.';
comment on column public.persona_acts.action is 'What was done, e.g. session_start or message.send.';
comment on column public.persona_acts.subject_id is 'The object acted on (a conversation or message id), if any.';
comment on column public.persona_acts.acted_at is 'When.';

alter table public.personas enable row level security;
alter table public.persona_acts enable row level security;
revoke all on table public.personas from anon, authenticated, service_role;
revoke all on table public.persona_acts from anon, authenticated, service_role;
grant select on table public.personas to authenticated;
grant update (display_name, avatar_url, is_active) on table public.personas to authenticated;
grant select on table public.persona_acts to authenticated;
grant select, insert, update, delete on table public.personas, public.persona_acts to service_role;
-- The identity column's sequence is internal; no API role calls nextval.
revoke all on sequence public.persona_acts_id_seq from anon, authenticated, service_role;
