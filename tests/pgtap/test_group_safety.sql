-- pgTAP: issue 20's private table and helpers are out of the API roles' reach.
-- parley_internal.group_departures (leaving sticks) is read and written only
-- by Parley's definer functions; the group-safety helpers and
-- record_persona_act are not executable by anon or authenticated.
begin;
set local search_path = tap, public;
select plan(14);

select ok(not has_table_privilege(r, 'parley_internal.group_departures', p),
          format('group_departures: %s has no %s privilege', r, p))
from unnest(array['anon', 'authenticated', 'service_role']) as r,
     unnest(array['select', 'insert', 'update', 'delete']) as p
where (r, p) in (('anon', 'select'), ('authenticated', 'select'), ('authenticated', 'insert'),
                 ('authenticated', 'delete'), ('service_role', 'select'), ('service_role', 'update'));

select ok((select relrowsecurity from pg_class where oid = 'parley_internal.group_departures'::regclass),
          'group_departures: row level security is enabled');

select ok(not has_function_privilege(r, f, 'execute'), format('%s is not executable by %s', f, r))
from unnest(array['anon', 'authenticated']) as r,
     unnest(array['parley_internal.record_persona_act(uuid, uuid, text, uuid)',
                  'parley_internal.require_group_addable(uuid, uuid, uuid[])',
                  'parley_internal.record_group_departure(uuid, uuid)']) as f;

select ok(has_function_privilege('authenticated', 'public.allow_group_readd(uuid)', 'execute'),
          'allow_group_readd is an RPC for authenticated');

select * from finish();
rollback;
