-- pgTAP: the outbox (issue 18). Its queue is internal (no API role reads or
-- writes it); the operator functions are service_role's; the triggers write
-- no row (events go to the WAL as logical messages).
begin;
set local search_path = tap, tests, public;
\ir _identity_fixture.sql
\ir _conversation_fixture.sql
select plan(9);

select ok(not has_table_privilege('authenticated', 'parley_internal.webhook_deliveries', 'select'),
  'webhook_deliveries: authenticated cannot read the queue');
select ok(not has_table_privilege('service_role', 'parley_internal.webhook_deliveries', 'select'),
  'webhook_deliveries: service_role cannot read it through the API either (the worker connects as the owner)');
select ok(not has_function_privilege('authenticated', 'parley_internal.push_recipients(bigint, integer)', 'execute'),
  'push_recipients: not for authenticated');
select ok(has_function_privilege('service_role', 'parley_internal.requeue_dead_webhooks()', 'execute'),
  'requeue_dead_webhooks: service_role');
select ok(not has_function_privilege('authenticated', 'parley_internal.outbox_emit(text, uuid, uuid, jsonb)', 'execute'),
  'outbox_emit: no API role emits events');
select is(tests.probe('i_member', $$select parley_internal.outbox_emit('message.created', null, null, '{}')$$),
  'error 42501', 'outbox_emit: a member calling it is refused (42501)');

-- A send writes no outbox row anywhere: the only new rows are the message's own.
select tests.authenticate_as('i_member');
select lives_ok($$select public.send_message('0c000000-0000-4000-8000-000000000001', 'outbox probe')$$,
  'send_message works with the outbox triggers on');
reset role;
select is((select count(*)::int from parley_internal.webhook_deliveries), 0,
  'the send wrote no queue row (the worker fills the queue from the WAL)');
select is((select count(*)::int from pg_catalog.pg_trigger t where t.tgrelid = 'public.messages'::regclass
           and t.tgname like '%outbox%'), 2, 'messages carry the outbox insert and update triggers');

select * from finish();
rollback;
