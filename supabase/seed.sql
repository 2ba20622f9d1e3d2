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
