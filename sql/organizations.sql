-- Organizations (tenants), their members and invitations.
--
-- Every chat object belongs to exactly one organization. A user may belong
-- to several. Roles: owner, admin, member, guest. An organization always has
-- at least one owner (parley_internal.check_organization_has_owner).

create table if not exists public.organizations (
  id uuid primary key default gen_random_uuid(),
  name text not null check (pg_catalog.length(pg_catalog.btrim(name)) between 1 and 100),
  plan_id text not null default 'chat' references public.plans (id),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default pg_catalog.now()
);
create index if not exists organizations_plan_id_idx on public.organizations (plan_id);
create index if not exists organizations_created_by_idx on public.organizations (created_by);
comment on table public.organizations is 'Tenants: every chat object belongs to exactly one organization.';
comment on column public.organizations.id is 'Organization id.';
comment on column public.organizations.name is 'Display name (1 to 100 characters).';
comment on column public.organizations.plan_id is 'The plan the organization is on; only service_role (billing) changes it.';
comment on column public.organizations.created_by is 'The user who created the organization (its first owner).';
comment on column public.organizations.created_at is 'When the organization was created.';

create table if not exists public.organization_members (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'member', 'guest')),
  created_at timestamptz not null default pg_catalog.now(),
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (organization_id, user_id)
);
create index if not exists organization_members_user_id_idx on public.organization_members (user_id);
create index if not exists organization_members_owners_idx on public.organization_members (organization_id)
  where role = 'owner';
comment on table public.organization_members is 'Who belongs to which organization, with which role.';
comment on column public.organization_members.organization_id is 'The organization.';
comment on column public.organization_members.user_id is 'The member.';
comment on column public.organization_members.role is 'owner, admin, member or guest.';
comment on column public.organization_members.created_at is 'When the user joined.';
comment on column public.organization_members.updated_at is 'When the role last changed.';

create table if not exists public.organization_invitations (
  id uuid primary key default gen_random_uuid(),
  organization_id uuid not null references public.organizations (id) on delete cascade,
  role text not null check (role in ('admin', 'member', 'guest')),
  email text check (email is null or pg_catalog.length(email) between 3 and 320),
  token_hash text not null unique,
  invited_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default pg_catalog.now(),
  expires_at timestamptz not null,
  accepted_by uuid references auth.users (id) on delete set null,
  accepted_at timestamptz
);
create index if not exists organization_invitations_organization_id_idx on public.organization_invitations (organization_id);
create index if not exists organization_invitations_invited_by_idx on public.organization_invitations (invited_by);
create index if not exists organization_invitations_accepted_by_idx on public.organization_invitations (accepted_by);
comment on table public.organization_invitations is 'Invitations to join an organization with a role; accepted once, by token, before expiry.';
comment on column public.organization_invitations.id is 'Invitation id.';
comment on column public.organization_invitations.organization_id is 'The organization invited to.';
comment on column public.organization_invitations.role is 'Role granted on acceptance: admin, member or guest (never owner).';
comment on column public.organization_invitations.email is 'When set, only the user with this (auth) email may accept.';
comment on column public.organization_invitations.token_hash is 'SHA-256 (hex) of the secret token; the token itself is shown once, to the inviter.';
comment on column public.organization_invitations.invited_by is 'Who created the invitation.';
comment on column public.organization_invitations.created_at is 'When the invitation was created.';
comment on column public.organization_invitations.expires_at is 'After this the invitation is refused.';
comment on column public.organization_invitations.accepted_by is 'Who accepted it (null while unused).';
comment on column public.organization_invitations.accepted_at is 'When it was accepted (null while unused).';

alter table public.organizations enable row level security;
alter table public.organization_members enable row level security;
alter table public.organization_invitations enable row level security;

revoke all on table public.organizations from anon, authenticated, service_role;
revoke all on table public.organization_members from anon, authenticated, service_role;
revoke all on table public.organization_invitations from anon, authenticated, service_role;

-- Members read their organizations; owners/admins rename them (RLS decides
-- who); creation, plans and membership changes go through RPCs.
grant select on table public.organizations to authenticated;
grant update (name) on table public.organizations to authenticated;
grant select on table public.organization_members to authenticated;
grant select on table public.organization_invitations to authenticated;
grant select, insert, update, delete on table public.organizations, public.organization_members,
  public.organization_invitations to service_role;
