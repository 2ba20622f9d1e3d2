-- Included (\ir) by the identity pgTAP files; not a test file itself.
-- Everything here happens inside the including file's transaction and is
-- rolled back with it.
--
-- tests.probe(actor, statement) runs statement as actor ('anon',
-- 'service_role' or a test user) the way PostgREST would, then rolls it back
-- and reports 'rows N' (rows returned or written) or 'error SQLSTATE'.
-- Set-up below runs as the database owner: that is fixture creation, not
-- behaviour under test.

create or replace function tests.probe(actor text, statement text)
returns text
language plpgsql
as $$
declare
  affected bigint;
  outcome text;
begin
  begin
    if actor = 'anon' then
      perform tests.authenticate_as_anon();
    elsif actor = 'service_role' then
      perform tests.authenticate_as_service_role();
    else
      perform tests.authenticate_as(actor);
    end if;
    execute 'with probed as (' || statement || ') select count(*) from probed' into affected;
    raise exception using errcode = 'PTRBK', message = affected::text;
  exception
    when sqlstate 'PTRBK' then outcome := 'rows ' || sqlerrm;
    when others then outcome := 'error ' || sqlstate;
  end;
  return outcome;
end
$$;

-- Acme: i_owner (owner), i_admin (admin), i_member (member).
-- Other: i_other_owner (owner), i_other_admin (admin). i_stranger: no organization.
select tests.create_user(name) from unnest(array['i_owner', 'i_admin', 'i_member', 'i_other_owner',
  'i_other_admin', 'i_stranger', 'i_bare']) as name;
-- i_bare lost its profile and privacy settings (to test service_role inserts).
delete from public.profiles where id = tests.user_id('i_bare');
delete from public.privacy_settings where user_id = tests.user_id('i_bare');

insert into public.organizations (id, name, created_by) values
  ('0a000000-0000-4000-8000-000000000001', 'Acme', tests.user_id('i_owner')),
  ('0a000000-0000-4000-8000-000000000002', 'Other', tests.user_id('i_other_owner'));
insert into public.organization_members (organization_id, user_id, role) values
  ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_owner'), 'owner'),
  ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'admin'),
  ('0a000000-0000-4000-8000-000000000001', tests.user_id('i_member'), 'member'),
  ('0a000000-0000-4000-8000-000000000002', tests.user_id('i_other_owner'), 'owner'),
  ('0a000000-0000-4000-8000-000000000002', tests.user_id('i_other_admin'), 'admin');
insert into public.organization_invitations (organization_id, role, token_hash, invited_by, expires_at) values
  ('0a000000-0000-4000-8000-000000000001', 'member', 'fixture-hash', tests.user_id('i_admin'), now() + interval '1 day');
insert into public.organization_role_permissions (organization_id, role, permission, granted, updated_by) values
  ('0a000000-0000-4000-8000-000000000001', 'member', 'chat.moderate', true, tests.user_id('i_owner'));
insert into public.personas (id, organization_id, display_name) values
  ('0b000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', 'Support Team');
insert into public.persona_acts (persona_id, organization_id, acting_user_id, action) values
  ('0b000000-0000-4000-8000-000000000001', '0a000000-0000-4000-8000-000000000001', tests.user_id('i_admin'), 'session_start');
insert into public.connections (user_low, user_high, requested_by, status, accepted_at)
select least(tests.user_id('i_member'), tests.user_id('i_admin')), greatest(tests.user_id('i_member'), tests.user_id('i_admin')),
       tests.user_id('i_member'), 'accepted', now();
insert into public.blocks (blocker_id, blocked_id) values (tests.user_id('i_member'), tests.user_id('i_stranger'));
