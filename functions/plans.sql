-- Plan enforcement: an organization's plan decides which chat features work.

create or replace function parley_internal.organization_has_feature(organization_id uuid, feature text)
returns boolean
language sql
stable
security definer
set search_path = ''
as $$
  select exists (
    select 1
    from public.organizations o
    join public.plan_features pf on pf.plan_id = o.plan_id
    where o.id = organization_has_feature.organization_id
      and pf.feature = organization_has_feature.feature
  )
$$;
comment on function parley_internal.organization_has_feature(uuid, text) is
  'Whether the organization''s plan includes the feature (false for an unknown organization).';
revoke all on function parley_internal.organization_has_feature(uuid, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.organization_has_feature(uuid, text) to service_role;

create or replace function parley_internal.require_feature(organization_id uuid, feature text)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not parley_internal.organization_has_feature(require_feature.organization_id, require_feature.feature) then
    perform parley_internal.refuse('PT402', 'feature_disabled',
      pg_catalog.format('The organization''s plan does not include %s.', require_feature.feature),
      'Upgrade the organization''s plan to one that includes this feature.');
  end if;
end
$$;
comment on function parley_internal.require_feature(uuid, text) is
  'Refuse with PT402 feature_disabled unless the organization''s plan includes the feature.';
revoke all on function parley_internal.require_feature(uuid, text) from public, anon, authenticated, service_role;
grant execute on function parley_internal.require_feature(uuid, text) to service_role;

create or replace function parley_internal.organization_features(organization_id uuid)
returns setof text
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  if not parley_internal.is_organization_member(organization_features.organization_id, (select auth.uid())) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  return query
    select pf.feature
    from public.organizations o
    join public.plan_features pf on pf.plan_id = o.plan_id
    where o.id = organization_features.organization_id
    order by pf.feature;
end
$$;
comment on function parley_internal.organization_features(uuid) is
  'The features the organization''s plan includes (members only).';
select parley_internal.publish_function('parley_internal.organization_features(uuid)', '{authenticated,service_role}');
