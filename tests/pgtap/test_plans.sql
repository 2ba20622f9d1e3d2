-- pgTAP: row level security of public.features, public.plans, public.plan_features (issue 3).
-- Every operation (select, insert, update, delete) is tried as anon, a
-- stranger, an Acme member, an admin of another organization, an Acme admin
-- and service_role; each try is rolled back (see _identity_fixture.sql).
-- Generated matrix; the expectations are the design in docs/identity.md.
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
select plan(72);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: anon sees 1 row(s) of the features catalog$q$),
  ($q$i_stranger$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: a stranger sees 1 row(s) of the features catalog$q$),
  ($q$i_member$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: an Acme member sees 1 row(s) of the features catalog$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: an admin of another organization sees 1 row(s) of the features catalog$q$),
  ($q$i_admin$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: an Acme admin sees 1 row(s) of the features catalog$q$),
  ($q$service_role$q$, $q$select 1 from public.features where key = 'chat'$q$, $q$rows 1$q$, $q$features: service_role sees 1 row(s) of the features catalog$q$),
  ($q$anon$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$error 42501$q$, $q$features: anon is refused (42501) on insert of the features catalog$q$),
  ($q$i_stranger$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$error 42501$q$, $q$features: a stranger is refused (42501) on insert of the features catalog$q$),
  ($q$i_member$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$error 42501$q$, $q$features: an Acme member is refused (42501) on insert of the features catalog$q$),
  ($q$i_other_admin$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$error 42501$q$, $q$features: an admin of another organization is refused (42501) on insert of the features catalog$q$),
  ($q$i_admin$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$error 42501$q$, $q$features: an Acme admin is refused (42501) on insert of the features catalog$q$),
  ($q$service_role$q$, $q$insert into public.features (key, description) values ('chat.video', 'x') returning 1$q$, $q$rows 1$q$, $q$features: service_role can insert the features catalog$q$),
  ($q$anon$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: anon is refused (42501) on update of the features catalog$q$),
  ($q$i_stranger$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: a stranger is refused (42501) on update of the features catalog$q$),
  ($q$i_member$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an Acme member is refused (42501) on update of the features catalog$q$),
  ($q$i_other_admin$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an admin of another organization is refused (42501) on update of the features catalog$q$),
  ($q$i_admin$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an Acme admin is refused (42501) on update of the features catalog$q$),
  ($q$service_role$q$, $q$update public.features set description = 'Cheap' where key = 'chat' returning 1$q$, $q$rows 1$q$, $q$features: service_role can update the features catalog$q$),
  ($q$anon$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: anon is refused (42501) on delete of the features catalog$q$),
  ($q$i_stranger$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: a stranger is refused (42501) on delete of the features catalog$q$),
  ($q$i_member$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an Acme member is refused (42501) on delete of the features catalog$q$),
  ($q$i_other_admin$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an admin of another organization is refused (42501) on delete of the features catalog$q$),
  ($q$i_admin$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$error 42501$q$, $q$features: an Acme admin is refused (42501) on delete of the features catalog$q$),
  ($q$service_role$q$, $q$delete from public.features where key = 'chat' returning 1$q$, $q$rows 1$q$, $q$features: service_role can delete the features catalog$q$),
  ($q$anon$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: anon sees 1 row(s) of the plans catalog$q$),
  ($q$i_stranger$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: a stranger sees 1 row(s) of the plans catalog$q$),
  ($q$i_member$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: an Acme member sees 1 row(s) of the plans catalog$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: an admin of another organization sees 1 row(s) of the plans catalog$q$),
  ($q$i_admin$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: an Acme admin sees 1 row(s) of the plans catalog$q$),
  ($q$service_role$q$, $q$select 1 from public.plans where id = 'chat'$q$, $q$rows 1$q$, $q$plans: service_role sees 1 row(s) of the plans catalog$q$),
  ($q$anon$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$error 42501$q$, $q$plans: anon is refused (42501) on insert of the plans catalog$q$),
  ($q$i_stranger$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$error 42501$q$, $q$plans: a stranger is refused (42501) on insert of the plans catalog$q$),
  ($q$i_member$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$error 42501$q$, $q$plans: an Acme member is refused (42501) on insert of the plans catalog$q$),
  ($q$i_other_admin$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$error 42501$q$, $q$plans: an admin of another organization is refused (42501) on insert of the plans catalog$q$),
  ($q$i_admin$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$error 42501$q$, $q$plans: an Acme admin is refused (42501) on insert of the plans catalog$q$),
  ($q$service_role$q$, $q$insert into public.plans (id, name, monthly_price) values ('gold', 'Gold', 99) returning 1$q$, $q$rows 1$q$, $q$plans: service_role can insert the plans catalog$q$),
  ($q$anon$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: anon is refused (42501) on update of the plans catalog$q$),
  ($q$i_stranger$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: a stranger is refused (42501) on update of the plans catalog$q$),
  ($q$i_member$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an Acme member is refused (42501) on update of the plans catalog$q$),
  ($q$i_other_admin$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an admin of another organization is refused (42501) on update of the plans catalog$q$),
  ($q$i_admin$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an Acme admin is refused (42501) on update of the plans catalog$q$),
  ($q$service_role$q$, $q$update public.plans set name = 'Cheap' where id = 'chat' returning 1$q$, $q$rows 1$q$, $q$plans: service_role can update the plans catalog$q$),
  ($q$anon$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: anon is refused (42501) on delete of the plans catalog$q$),
  ($q$i_stranger$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: a stranger is refused (42501) on delete of the plans catalog$q$),
  ($q$i_member$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an Acme member is refused (42501) on delete of the plans catalog$q$),
  ($q$i_other_admin$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an admin of another organization is refused (42501) on delete of the plans catalog$q$),
  ($q$i_admin$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plans: an Acme admin is refused (42501) on delete of the plans catalog$q$),
  ($q$service_role$q$, $q$delete from public.plans where id = 'chat' returning 1$q$, $q$error 23503$q$, $q$plans: service_role is refused (23503) on delete of the plans catalog$q$),
  ($q$anon$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: anon sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$i_stranger$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: a stranger sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$i_member$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: an Acme member sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: an admin of another organization sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$i_admin$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: an Acme admin sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$service_role$q$, $q$select 1 from public.plan_features where plan_id = 'chat'$q$, $q$rows 2$q$, $q$plan_features: service_role sees 2 row(s) of the features of the Chat System plan$q$),
  ($q$anon$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$error 42501$q$, $q$plan_features: anon is refused (42501) on insert of the features of the Chat System plan$q$),
  ($q$i_stranger$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$error 42501$q$, $q$plan_features: a stranger is refused (42501) on insert of the features of the Chat System plan$q$),
  ($q$i_member$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme member is refused (42501) on insert of the features of the Chat System plan$q$),
  ($q$i_other_admin$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$error 42501$q$, $q$plan_features: an admin of another organization is refused (42501) on insert of the features of the Chat System plan$q$),
  ($q$i_admin$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme admin is refused (42501) on insert of the features of the Chat System plan$q$),
  ($q$service_role$q$, $q$insert into public.plan_features (plan_id, feature) values ('free', 'chat') returning 1$q$, $q$rows 1$q$, $q$plan_features: service_role can insert the features of the Chat System plan$q$),
  ($q$anon$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$error 42501$q$, $q$plan_features: anon is refused (42501) on update of the features of the Chat System plan$q$),
  ($q$i_stranger$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$error 42501$q$, $q$plan_features: a stranger is refused (42501) on update of the features of the Chat System plan$q$),
  ($q$i_member$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme member is refused (42501) on update of the features of the Chat System plan$q$),
  ($q$i_other_admin$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$error 42501$q$, $q$plan_features: an admin of another organization is refused (42501) on update of the features of the Chat System plan$q$),
  ($q$i_admin$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme admin is refused (42501) on update of the features of the Chat System plan$q$),
  ($q$service_role$q$, $q$update public.plan_features set plan_id = 'free' where plan_id = 'chat' and feature = 'chat.calls' returning 1$q$, $q$rows 1$q$, $q$plan_features: service_role can update the features of the Chat System plan$q$),
  ($q$anon$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plan_features: anon is refused (42501) on delete of the features of the Chat System plan$q$),
  ($q$i_stranger$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plan_features: a stranger is refused (42501) on delete of the features of the Chat System plan$q$),
  ($q$i_member$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme member is refused (42501) on delete of the features of the Chat System plan$q$),
  ($q$i_other_admin$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plan_features: an admin of another organization is refused (42501) on delete of the features of the Chat System plan$q$),
  ($q$i_admin$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$error 42501$q$, $q$plan_features: an Acme admin is refused (42501) on delete of the features of the Chat System plan$q$),
  ($q$service_role$q$, $q$delete from public.plan_features where plan_id = 'chat' returning 1$q$, $q$rows 2$q$, $q$plan_features: service_role can delete the features of the Chat System plan$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
