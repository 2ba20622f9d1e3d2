-- Named permissions (seed 004: chat.* permissions), the default role ->
-- permission map, and per-organization overrides.

create table if not exists public.permissions (
  key text primary key check (key ~ '^[a-z][a-z0-9_.]{1,62}$'),
  description text not null
);
comment on table public.permissions is 'Catalog of named permissions (chat.view, chat.moderate, ...).';
comment on column public.permissions.key is 'Stable permission name.';
comment on column public.permissions.description is 'What the permission allows.';

create table if not exists public.role_permissions (
  role text not null check (role in ('owner', 'admin', 'member', 'guest')),
  permission text not null references public.permissions (key) on delete cascade,
  primary key (role, permission)
);
create index if not exists role_permissions_permission_idx on public.role_permissions (permission);
comment on table public.role_permissions is 'Default permissions of each organization role (owners always hold every permission).';
comment on column public.role_permissions.role is 'Organization role.';
comment on column public.role_permissions.permission is 'A permission the role holds by default.';

create table if not exists public.organization_role_permissions (
  organization_id uuid not null references public.organizations (id) on delete cascade,
  role text not null check (role in ('admin', 'member', 'guest')),
  permission text not null references public.permissions (key) on delete cascade,
  granted boolean not null,
  updated_by uuid references auth.users (id) on delete set null,
  updated_at timestamptz not null default pg_catalog.now(),
  primary key (organization_id, role, permission)
);
create index if not exists organization_role_permissions_permission_idx on public.organization_role_permissions (permission);
create index if not exists organization_role_permissions_updated_by_idx on public.organization_role_permissions (updated_by);
comment on table public.organization_role_permissions is 'Per-organization overrides of the default role map: grant (true) or revoke (false).';
comment on column public.organization_role_permissions.organization_id is 'The organization the override applies to.';
comment on column public.organization_role_permissions.role is 'admin, member or guest (the owner role cannot be overridden).';
comment on column public.organization_role_permissions.permission is 'The permission overridden.';
comment on column public.organization_role_permissions.granted is 'true grants the permission to the role, false revokes it.';
comment on column public.organization_role_permissions.updated_by is 'Who set the override.';
comment on column public.organization_role_permissions.updated_at is 'When the override was set.';

alter table public.permissions enable row level security;
alter table public.role_permissions enable row level security;
alter table public.organization_role_permissions enable row level security;

revoke all on table public.permissions from anon, authenticated, service_role;
revoke all on table public.role_permissions from anon, authenticated, service_role;
revoke all on table public.organization_role_permissions from anon, authenticated, service_role;
grant select on table public.permissions, public.role_permissions to authenticated;
grant select on table public.organization_role_permissions to authenticated;
grant select, insert, update, delete on table public.permissions, public.role_permissions,
  public.organization_role_permissions to service_role;

insert into public.permissions (key, description) values
  ('chat.view', 'View and access chats.'),
  ('chat.create_group', 'Create group chats.'),
  ('chat.manage_group', 'Manage group chat settings and members.'),
  ('chat.delete', 'Delete chats and messages.'),
  ('chat.initiate_call', 'Start audio and video calls.'),
  ('chat.moderate', 'Moderate conversations (hide messages, mute members).'),
  ('chat.support_agent', 'Answer support conversations and act as personas.'),
  ('chat.send_notice', 'Send staff notices to members.'),
  ('chat.audit_read', 'Read the audit log, including who acted as a persona.')
on conflict (key) do nothing;

insert into public.role_permissions (role, permission)
select 'owner', key from public.permissions
union all
select 'admin', key from public.permissions
union all
select 'member', key from public.permissions where key in ('chat.view', 'chat.create_group', 'chat.initiate_call')
union all
select 'guest', 'chat.view'
on conflict do nothing;
