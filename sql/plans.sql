-- Plans and features (seed 004: a paid chat package per organization).
--
-- features       the catalog of switchable capabilities (chat, chat.calls).
-- plans          what an organization can be on, with a monthly price.
-- plan_features  which features each plan includes.
-- Only service_role (billing) writes these; everyone may read them
-- (a pricing page needs them before sign-in).

create table if not exists public.features (
  key text primary key check (key ~ '^[a-z][a-z0-9_.]{1,62}$'),
  description text not null
);
comment on table public.features is 'Catalog of plan features that switch chat capabilities on or off.';
comment on column public.features.key is 'Stable feature key, e.g. chat or chat.calls.';
comment on column public.features.description is 'What the feature enables.';

create table if not exists public.plans (
  id text primary key check (id ~ '^[a-z][a-z0-9_]{1,62}$'),
  name text not null check (pg_catalog.length(name) between 1 and 100),
  monthly_price numeric(10, 2) not null default 0 check (monthly_price >= 0),
  currency text not null default 'USD' check (currency ~ '^[A-Z]{3}$'),
  is_active boolean not null default true,
  created_at timestamptz not null default pg_catalog.now()
);
comment on table public.plans is 'Subscription plans an organization can be on (e.g. Chat System, 49.99 USD per month).';
comment on column public.plans.id is 'Stable plan key, e.g. free or chat.';
comment on column public.plans.name is 'Name shown to customers.';
comment on column public.plans.monthly_price is 'Price per month in currency.';
comment on column public.plans.currency is 'ISO 4217 currency code of monthly_price.';
comment on column public.plans.is_active is 'Whether the plan can still be chosen.';
comment on column public.plans.created_at is 'When the plan was created.';

create table if not exists public.plan_features (
  plan_id text not null references public.plans (id) on delete cascade,
  feature text not null references public.features (key) on delete cascade,
  primary key (plan_id, feature)
);
create index if not exists plan_features_feature_idx on public.plan_features (feature);
comment on table public.plan_features is 'Features included in each plan.';
comment on column public.plan_features.plan_id is 'The plan.';
comment on column public.plan_features.feature is 'A feature the plan includes.';

alter table public.features enable row level security;
alter table public.plans enable row level security;
alter table public.plan_features enable row level security;

revoke all on table public.features from anon, authenticated, service_role;
revoke all on table public.plans from anon, authenticated, service_role;
revoke all on table public.plan_features from anon, authenticated, service_role;
grant select on table public.features, public.plans, public.plan_features to anon, authenticated;
grant select, insert, update, delete on table public.features, public.plans, public.plan_features to service_role;

-- Reference data every deployment needs. Prices are the catalog's defaults;
-- billing (service_role) may change them later, so existing rows are kept.
insert into public.features (key, description) values
  ('chat', 'Conversations and messages.'),
  ('chat.calls', 'Audio and video calls.')
on conflict (key) do nothing;

insert into public.plans (id, name, monthly_price, currency) values
  ('free', 'Free', 0, 'USD'),
  ('chat_lite', 'Chat Lite', 19.99, 'USD'),
  ('chat', 'Chat System', 49.99, 'USD')
on conflict (id) do nothing;

insert into public.plan_features (plan_id, feature) values
  ('chat_lite', 'chat'),
  ('chat', 'chat'),
  ('chat', 'chat.calls')
on conflict do nothing;
