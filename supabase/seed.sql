-- Demo data for `make run` (and `supabase db reset`). Idempotent: every
-- insert skips rows that already exist, so a second run changes nothing.
--
-- Users are created the way GoTrue creates them: a row in auth.users. The
-- ids are fixed so that printed tokens stay valid across restarts.

insert into auth.users (id, aud, role, email, email_confirmed_at, raw_app_meta_data, raw_user_meta_data, created_at, updated_at)
values
  ('00000000-0000-4000-8000-00000000a11c', 'authenticated', 'authenticated', 'alice@example.com', now(),
   '{"provider": "email"}', '{"display_name": "Alice Example", "username": "alice"}', now(), now()),
  ('00000000-0000-4000-8000-000000000b0b', 'authenticated', 'authenticated', 'bob@example.com', now(),
   '{"provider": "email"}', '{"display_name": "Bob Example", "username": "bob"}', now(), now()),
  ('00000000-0000-4000-8000-0000000ad317', 'authenticated', 'authenticated', 'admin@example.com', now(),
   '{"provider": "email"}', '{"display_name": "Ada Admin", "username": "admin"}', now(), now()),
  ('00000000-0000-4000-8000-0000000ca201', 'authenticated', 'authenticated', 'carol@example.com', now(),
   '{"provider": "email"}', '{"display_name": "Carol Example", "username": "carol"}', now(), now())
on conflict (id) do nothing;

-- Identity demo (issue 3). Profiles and privacy settings were created by the
-- auth.users trigger. Acme Tutoring is on the Chat System plan: admin owns
-- it, alice and bob are members, carol is a guest; a "Support Team" persona;
-- alice and bob are connected, carol has asked alice to connect.
insert into public.organizations (id, name, plan_id, created_by)
values ('00000000-0000-4000-8000-0000000ac3e0', 'Acme Tutoring', 'chat', '00000000-0000-4000-8000-0000000ad317')
on conflict (id) do nothing;

insert into public.organization_members (organization_id, user_id, role) values
  ('00000000-0000-4000-8000-0000000ac3e0', '00000000-0000-4000-8000-0000000ad317', 'owner'),
  ('00000000-0000-4000-8000-0000000ac3e0', '00000000-0000-4000-8000-00000000a11c', 'member'),
  ('00000000-0000-4000-8000-0000000ac3e0', '00000000-0000-4000-8000-000000000b0b', 'member'),
  ('00000000-0000-4000-8000-0000000ac3e0', '00000000-0000-4000-8000-0000000ca201', 'guest')
on conflict (organization_id, user_id) do nothing;

insert into public.personas (id, organization_id, display_name)
values ('00000000-0000-4000-8000-00000005a9e0', '00000000-0000-4000-8000-0000000ac3e0', 'Support Team')
on conflict (id) do nothing;

update public.profiles set app_roles = '{student}'
where id in ('00000000-0000-4000-8000-00000000a11c', '00000000-0000-4000-8000-000000000b0b') and app_roles = '{}';
update public.profiles set app_roles = '{tutor}'
where id = '00000000-0000-4000-8000-0000000ca201' and app_roles = '{}';

insert into public.connections (user_low, user_high, requested_by, status, accepted_at) values
  ('00000000-0000-4000-8000-000000000b0b', '00000000-0000-4000-8000-00000000a11c',
   '00000000-0000-4000-8000-00000000a11c', 'accepted', now()),
  ('00000000-0000-4000-8000-00000000a11c', '00000000-0000-4000-8000-0000000ca201',
   '00000000-0000-4000-8000-0000000ca201', 'pending', null)
on conflict on constraint connections_pair_key do nothing;
