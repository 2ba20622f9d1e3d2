-- Plans, features and plan features are public reference data: everyone
-- reads them (a pricing page before sign-in); only service_role writes
-- (service_role bypasses RLS; its writes are limited by its grants).

drop policy if exists features_select on public.features;
create policy features_select on public.features for select to anon, authenticated using (true);

drop policy if exists plans_select on public.plans;
create policy plans_select on public.plans for select to anon, authenticated using (true);

drop policy if exists plan_features_select on public.plan_features;
create policy plan_features_select on public.plan_features for select to anon, authenticated using (true);
