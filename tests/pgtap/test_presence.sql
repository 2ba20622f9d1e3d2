-- pgTAP: presence (issue 4). Row level security of public.presence for
-- every operation, get_presence and heartbeat, tried as anon, a stranger,
-- an Acme member, an admin of another organization, an Acme admin and
-- service_role; each try is rolled back (see _identity_fixture.sql).
-- Generated matrix; the expectations are the design in docs/read-state.md
-- (presence: yourself, or a shared organization or accepted connection, no
-- block either way, online status shown; written only through heartbeat).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql

-- Presence fixture: i_member, i_owner and i_stranger have presence rows;
-- i_owner hides their online status. i_member blocked i_stranger.
insert into public.presence (user_id, status) values
  (tests.user_id('i_member'), 'online'), (tests.user_id('i_owner'), 'busy'), (tests.user_id('i_stranger'), 'away');
update public.privacy_settings set show_online_status = false where user_id = tests.user_id('i_owner');

select plan(48);

select is(tests.probe(actor, statement), expected, description)
from (values
  ($q$anon$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on select of i_member's presence$q$),
  ($q$i_stranger$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$presence: a stranger gets no row from select of i_member's presence$q$),
  ($q$i_member$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$presence: a member of the conversation gets 1 row(s) from select of i_member's presence$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$rows 0$q$, $q$presence: an admin of another organization gets no row from select of i_member's presence$q$),
  ($q$i_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$presence: an Acme admin (not a member) gets 1 row(s) from select of i_member's presence$q$),
  ($q$service_role$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_member')$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from select of i_member's presence$q$),
  ($q$anon$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on select of i_owner's presence (status hidden)$q$),
  ($q$i_stranger$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$rows 0$q$, $q$presence: a stranger gets no row from select of i_owner's presence (status hidden)$q$),
  ($q$i_member$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$rows 0$q$, $q$presence: a member of the conversation gets no row from select of i_owner's presence (status hidden)$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$rows 0$q$, $q$presence: an admin of another organization gets no row from select of i_owner's presence (status hidden)$q$),
  ($q$i_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$rows 0$q$, $q$presence: an Acme admin (not a member) gets no row from select of i_owner's presence (status hidden)$q$),
  ($q$service_role$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_owner')$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from select of i_owner's presence (status hidden)$q$),
  ($q$anon$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$i_stranger$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$rows 1$q$, $q$presence: a stranger gets 1 row(s) from select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$i_member$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$rows 0$q$, $q$presence: a member of the conversation gets no row from select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$i_other_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$rows 0$q$, $q$presence: an admin of another organization gets no row from select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$i_admin$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$rows 0$q$, $q$presence: an Acme admin (not a member) gets no row from select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$service_role$q$, $q$select 1 from public.presence where user_id = tests.user_id('i_stranger')$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from select of i_stranger's presence (blocked by i_member, shares no organization)$q$),
  ($q$anon$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on insert of i_admin's presence$q$),
  ($q$i_stranger$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$error 42501$q$, $q$presence: a stranger is refused (42501) on insert of i_admin's presence$q$),
  ($q$i_member$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$error 42501$q$, $q$presence: a member of the conversation is refused (42501) on insert of i_admin's presence$q$),
  ($q$i_other_admin$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$error 42501$q$, $q$presence: an admin of another organization is refused (42501) on insert of i_admin's presence$q$),
  ($q$i_admin$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$error 42501$q$, $q$presence: an Acme admin (not a member) is refused (42501) on insert of i_admin's presence$q$),
  ($q$service_role$q$, $q$insert into public.presence (user_id, status) values (tests.user_id('i_admin'), 'online') returning 1$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from insert of i_admin's presence$q$),
  ($q$anon$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on update of i_member's presence$q$),
  ($q$i_stranger$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: a stranger is refused (42501) on update of i_member's presence$q$),
  ($q$i_member$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: a member of the conversation is refused (42501) on update of i_member's presence$q$),
  ($q$i_other_admin$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: an admin of another organization is refused (42501) on update of i_member's presence$q$),
  ($q$i_admin$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: an Acme admin (not a member) is refused (42501) on update of i_member's presence$q$),
  ($q$service_role$q$, $q$update public.presence set status = 'away' where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from update of i_member's presence$q$),
  ($q$anon$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: anon is refused (42501) on delete of i_member's presence$q$),
  ($q$i_stranger$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: a stranger is refused (42501) on delete of i_member's presence$q$),
  ($q$i_member$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: a member of the conversation is refused (42501) on delete of i_member's presence$q$),
  ($q$i_other_admin$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: an admin of another organization is refused (42501) on delete of i_member's presence$q$),
  ($q$i_admin$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$error 42501$q$, $q$presence: an Acme admin (not a member) is refused (42501) on delete of i_member's presence$q$),
  ($q$service_role$q$, $q$delete from public.presence where user_id = tests.user_id('i_member') returning 1$q$, $q$rows 1$q$, $q$presence: service_role gets 1 row(s) from delete of i_member's presence$q$),
  ($q$anon$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$error 42501$q$, $q$get_presence: anon is refused (42501) on get_presence of i_member, i_owner and i_stranger$q$),
  ($q$i_stranger$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$rows 1$q$, $q$get_presence: a stranger gets 1 row(s) from get_presence of i_member, i_owner and i_stranger$q$),
  ($q$i_member$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$rows 1$q$, $q$get_presence: a member of the conversation gets 1 row(s) from get_presence of i_member, i_owner and i_stranger$q$),
  ($q$i_other_admin$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$rows 0$q$, $q$get_presence: an admin of another organization gets no row from get_presence of i_member, i_owner and i_stranger$q$),
  ($q$i_admin$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$rows 1$q$, $q$get_presence: an Acme admin (not a member) gets 1 row(s) from get_presence of i_member, i_owner and i_stranger$q$),
  ($q$service_role$q$, $q$select * from public.get_presence(array[tests.user_id('i_member'), tests.user_id('i_owner'), tests.user_id('i_stranger')])$q$, $q$error 42501$q$, $q$get_presence: service_role is refused (42501) on get_presence of i_member, i_owner and i_stranger$q$),
  ($q$anon$q$, $q$select * from public.heartbeat('away')$q$, $q$error 42501$q$, $q$heartbeat: anon is refused (42501) on heartbeat$q$),
  ($q$i_stranger$q$, $q$select * from public.heartbeat('away')$q$, $q$rows 1$q$, $q$heartbeat: a stranger gets 1 row(s) from heartbeat$q$),
  ($q$i_member$q$, $q$select * from public.heartbeat('away')$q$, $q$rows 1$q$, $q$heartbeat: a member of the conversation gets 1 row(s) from heartbeat$q$),
  ($q$i_other_admin$q$, $q$select * from public.heartbeat('away')$q$, $q$rows 1$q$, $q$heartbeat: an admin of another organization gets 1 row(s) from heartbeat$q$),
  ($q$i_admin$q$, $q$select * from public.heartbeat('away')$q$, $q$rows 1$q$, $q$heartbeat: an Acme admin (not a member) gets 1 row(s) from heartbeat$q$),
  ($q$service_role$q$, $q$select * from public.heartbeat('away')$q$, $q$error 42501$q$, $q$heartbeat: service_role is refused (42501) on heartbeat$q$)
) as matrix (actor, statement, expected, description);

select * from finish();
rollback;
