-- The audit trail: the append function every audit trigger goes through, the
-- row triggers, the staff-read trace, and chain verification (issue 5).
--
-- Writing an entry (parley_internal.audit_append):
--   1. lock the chain's head row (SELECT ... FOR UPDATE, once per chain per
--      transaction), which serializes the writers of one chain until commit
--      and nothing else;
--   2. number the entry (chain_seq = head + 1) and take its id;
--   3. hash = sha256(head hash || canonical content);
--   4. insert the entry; the transaction's head moves in a local setting and
--      the head row is written once, at commit (deferred trigger).
-- Verification recomputes every hash of a chain in order and compares the
-- last one with the head. See docs/audit.md.

-- Immutability: refuse UPDATE, DELETE and TRUNCATE of audit_log to everyone.
-- API roles hold no such privilege anyway; this stops the table owner too,
-- unless they disable the trigger, which verify then detects.
create or replace function parley_internal.audit_log_guard()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  -- The one exception: erasing personal values, which changes nothing the hash chain covers.
  if tg_op = 'UPDATE' and parley_internal.audit_update_is_erasure(old, new) then
    return new;
  end if;
  perform parley_internal.refuse('42501', 'audit_log_immutable',
    pg_catalog.format('The audit log is append-only (%s refused).', tg_op),
    'Audit entries are never changed or removed.');
  return null;
end
$$;
comment on function parley_internal.audit_log_guard() is
  'Trigger: refuse UPDATE, DELETE and TRUNCATE of public.audit_log (42501 audit_log_immutable), whoever asks.';
select parley_internal.restrict_function('parley_internal.audit_log_guard()', '{}');

drop trigger if exists audit_log_immutable on public.audit_log;
create trigger audit_log_immutable before update or delete on public.audit_log
  for each row execute function parley_internal.audit_log_guard();
drop trigger if exists audit_log_no_truncate on public.audit_log;
create trigger audit_log_no_truncate before truncate on public.audit_log
  for each statement execute function parley_internal.audit_log_guard();

-- Who is acting, from where: the JWT role (or the database role outside the
-- API), the client address and the user agent from PostgREST's
-- request.headers. Malformed headers give nulls, never an error: the audited
-- change must not fail because of a header.
create or replace function parley_internal.audit_request_context(
  out actor_role text,
  out ip inet,
  out user_agent text
)
language plpgsql
stable
set search_path = ''
as $$
declare
  headers jsonb;
  address text;
begin
  actor_role := coalesce(nullif(pg_catalog.current_setting('request.jwt.claims', true), '')::jsonb ->> 'role',
                         nullif(pg_catalog.current_setting('role'), 'none'), session_user::text);
  headers := nullif(pg_catalog.current_setting('request.headers', true), '')::jsonb;
  if pg_catalog.jsonb_typeof(headers) is distinct from 'object' then
    return;
  end if;
  user_agent := pg_catalog.left(headers ->> 'user-agent', 512);
  address := coalesce(nullif(pg_catalog.btrim(pg_catalog.split_part(headers ->> 'x-forwarded-for', ',', 1)), ''),
                      nullif(pg_catalog.btrim(headers ->> 'x-real-ip'), ''));
  if address is null or pg_catalog.length(address) > 64 then
    return;
  end if;
  -- "[2001:db8::1]:443" and "203.0.113.7:8080" carry a port; inet takes neither.
  address := pg_catalog.regexp_replace(address, '^\[([0-9A-Fa-f:.]+)\](:[0-9]+)?$', '\1');
  address := pg_catalog.regexp_replace(address, '^([0-9.]+):[0-9]+$', '\1');
  if address ~ '^[0-9A-Fa-f:.]+$' then
    begin
      ip := address::inet;
    exception when others then
      ip := null;
    end;
  end if;
exception when others then
  -- Invalid JSON in a setting only a misconfigured proxy could produce: record what is known.
  actor_role := coalesce(actor_role, session_user::text);
end
$$;
comment on function parley_internal.audit_request_context() is
  'The acting role (JWT role claim, else the database role), client IP (first x-forwarded-for address, else x-real-ip) and user agent of the current request; nulls when absent or malformed.';
select parley_internal.restrict_function('parley_internal.audit_request_context()', '{}');

-- The canonical content an entry's hash covers: every column but the hash,
-- in a fixed order, as jsonb text (deterministic: object keys are sorted) with
-- the time spelled in UTC, so neither TimeZone nor DateStyle changes it.
create or replace function parley_internal.audit_entry_hash(previous_hash bytea, entry public.audit_log)
returns bytea
language sql
stable
set search_path = ''
as $$
  -- hash_version 2 (functions/audit_erasure.sql): digests of the erasable values instead of the values.
  select pg_catalog.sha256(previous_hash || pg_catalog.convert_to(case when entry.hash_version = 2
    then parley_internal.audit_entry_content_v2(entry)
    else pg_catalog.jsonb_build_array(
    entry.id, entry.chain, entry.chain_seq, entry.organization_id, entry.subject_user_id, entry.actor_id,
    entry.actor_role, entry.persona_id, entry.ip::text, entry.user_agent,
    pg_catalog.to_char(entry.occurred_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    entry.action, entry.table_name, entry.object_id, entry.old_values, entry.new_values)::text end, 'UTF8'))
$$;
comment on function parley_internal.audit_entry_hash(bytea, public.audit_log) is
  'sha256(previous_hash || canonical content of the entry): the hash an audit entry must carry.';
select parley_internal.restrict_function('parley_internal.audit_entry_hash(bytea, public.audit_log)', '{}');

-- The head of a chain as this transaction sees it: the transaction's own
-- newest entry of the chain if it appended one (kept in the transaction-local
-- setting parley.audit_heads, {"<chain>": {"seq", "hash", "id"}}), else the
-- committed head row. The head row is written once per chain per transaction,
-- at commit, by the deferred trigger audit_log_move_head: a bulk change that
-- appends thousands of entries does not update (and walk) one row thousands
-- of times. The setting follows savepoints: a rolled-back subtransaction takes
-- its entries and its head changes with it.
create or replace function parley_internal.audit_pending_head(chain text)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select nullif(pg_catalog.current_setting('parley.audit_heads', true), '')::jsonb -> audit_pending_head.chain
$$;
comment on function parley_internal.audit_pending_head(text) is
  'This transaction''s newest audit entry of the chain ({seq, hash, id}), or null if it appended none.';
select parley_internal.restrict_function('parley_internal.audit_pending_head(text)', '{}');

create or replace function parley_internal.audit_append(
  organization_id uuid,
  subject_user_id uuid,
  persona_id uuid,
  action text,
  table_name text,
  object_id text,
  old_values jsonb,
  new_values jsonb
)
returns bigint
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  entry public.audit_log;
  pending jsonb;
  previous_seq bigint;
  previous_hash bytea;
  context record;
begin
  entry.chain := case
    when audit_append.organization_id is not null then 'organization:' || audit_append.organization_id::text
    when audit_append.subject_user_id is not null then 'user:' || audit_append.subject_user_id::text
    else 'global' end;
  pending := parley_internal.audit_pending_head(entry.chain);
  if pending is null then
    -- First entry of this chain in this transaction: lock the head row (creating it for a new chain).
    -- Writers of one chain queue here until commit; writers of other chains never wait.
    select h.last_seq, h.last_hash into previous_seq, previous_hash
    from parley_internal.audit_chain_heads h where h.chain = entry.chain for update;
    if not found then
      insert into parley_internal.audit_chain_heads (chain) values (entry.chain) on conflict (chain) do nothing;
      select h.last_seq, h.last_hash into strict previous_seq, previous_hash
      from parley_internal.audit_chain_heads h where h.chain = entry.chain for update;
    end if;
  else
    previous_seq := (pending ->> 'seq')::bigint;
    previous_hash := pg_catalog.decode(pending ->> 'hash', 'hex');
  end if;
  context := parley_internal.audit_request_context();
  entry.id := pg_catalog.nextval('public.audit_log_id_seq');
  entry.chain_seq := previous_seq + 1;
  entry.organization_id := audit_append.organization_id;
  entry.subject_user_id := case when audit_append.organization_id is null then audit_append.subject_user_id end;
  entry.actor_id := auth.uid();
  entry.actor_role := context.actor_role;
  entry.persona_id := audit_append.persona_id;
  entry.ip := context.ip;
  entry.user_agent := context.user_agent;
  entry.occurred_at := pg_catalog.now();
  entry.action := audit_append.action;
  entry.table_name := audit_append.table_name;
  entry.object_id := audit_append.object_id;
  entry.old_values := audit_append.old_values;
  entry.new_values := audit_append.new_values;
  entry.hash_version := 2;  -- erasable values (functions/audit_erasure.sql)
  entry.value_salt := pg_catalog.gen_random_uuid();
  entry.hash := parley_internal.audit_entry_hash(previous_hash, entry);
  insert into public.audit_log overriding system value select entry.*;
  perform pg_catalog.set_config('parley.audit_heads', pg_catalog.jsonb_set(
    coalesce(nullif(pg_catalog.current_setting('parley.audit_heads', true), '')::jsonb, '{}'::jsonb),
    array[entry.chain],
    pg_catalog.jsonb_build_object('seq', entry.chain_seq, 'hash', pg_catalog.encode(entry.hash, 'hex'),
                                  'id', entry.id))::text, true);
  return entry.id;
end
$$;
comment on function parley_internal.audit_append(uuid, uuid, uuid, text, text, text, jsonb, jsonb) is
  'Append one entry to its hash chain (organization, else subject user, else global), serialized per chain by the head row lock. Returns the entry id.';
select parley_internal.restrict_function('parley_internal.audit_append(uuid, uuid, uuid, text, text, text, jsonb, jsonb)', '{}');

-- At commit: move each chain's head row to the transaction's newest entry
-- (the first firing per chain does it, the others find nothing to do).
create or replace function parley_internal.audit_log_move_head()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  pending jsonb := parley_internal.audit_pending_head(new.chain);
begin
  if pending is null then
    pending := pg_catalog.jsonb_build_object('seq', new.chain_seq, 'hash', pg_catalog.encode(new.hash, 'hex'),
                                             'id', new.id);
  end if;
  update parley_internal.audit_chain_heads h
  set last_seq = (pending ->> 'seq')::bigint, last_hash = pg_catalog.decode(pending ->> 'hash', 'hex'),
      last_id = (pending ->> 'id')::bigint, updated_at = pg_catalog.now()
  where h.chain = new.chain and h.last_seq < (pending ->> 'seq')::bigint;
  return null;
end
$$;
comment on function parley_internal.audit_log_move_head() is
  'Deferred constraint trigger: at commit, set the chain''s head row to the transaction''s newest entry of that chain.';
select parley_internal.restrict_function('parley_internal.audit_log_move_head()', '{}');

drop trigger if exists audit_log_move_head on public.audit_log;
create constraint trigger audit_log_move_head after insert on public.audit_log
  deferrable initially deferred
  for each row execute function parley_internal.audit_log_move_head();

-- One trigger function for every audited table: which organization (or user)
-- the change belongs to, what to call it, and what changed.
create or replace function parley_internal.audit_row_change()
returns trigger
language plpgsql
security definer
set search_path = ''
as $$
declare
  entity text := tg_argv[0];
  secret_columns text[] := array['token_hash'];
  old_row jsonb;
  new_row jsonb;
  row_data jsonb;
  changed text[] := '{}';
  organization uuid;
  subject uuid;
  persona uuid;
  object text;
  verb text := case tg_op when 'INSERT' then 'create' when 'UPDATE' then 'update' else 'delete' end;
  old_values jsonb;
  new_values jsonb;
begin
  if tg_op in ('UPDATE', 'DELETE') then
    old_row := pg_catalog.to_jsonb(old) - secret_columns;
  end if;
  if tg_op in ('UPDATE', 'INSERT') then
    new_row := pg_catalog.to_jsonb(new) - secret_columns;
  end if;
  row_data := coalesce(new_row, old_row);
  if tg_op = 'UPDATE' then
    select coalesce(pg_catalog.array_agg(k order by k), '{}') into changed
    from pg_catalog.jsonb_object_keys(new_row) as k
    where k <> 'updated_at' and (old_row -> k) is distinct from (new_row -> k);
    if pg_catalog.cardinality(changed) = 0 then
      return null;  -- nothing but a timestamp moved
    end if;
    select pg_catalog.jsonb_object_agg(k, old_row -> k), pg_catalog.jsonb_object_agg(k, new_row -> k)
      into old_values, new_values
    from pg_catalog.unnest(changed) as k;
  elsif tg_op = 'INSERT' then
    new_values := new_row;
  else
    old_values := old_row;
  end if;

  case tg_table_name
    when 'organizations' then
      organization := (row_data ->> 'id')::uuid;
      object := row_data ->> 'id';
      if 'plan_id' = any(changed) then verb := 'plan_change'; end if;
    when 'organization_members' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := row_data ->> 'user_id';
      verb := case tg_op when 'INSERT' then 'add' when 'DELETE' then 'remove'
                         else case when 'role' = any(changed) then 'role_change' else 'update' end end;
    when 'organization_invitations' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := row_data ->> 'id';
      if 'accepted_at' = any(changed) then verb := 'accept'; end if;
    when 'organization_role_permissions' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := (row_data ->> 'role') || '/' || (row_data ->> 'permission');
    when 'role_permissions' then
      object := (row_data ->> 'role') || '/' || (row_data ->> 'permission');
    when 'organization_settings' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := row_data ->> 'organization_id';
      if 'compliance_mode' = any(changed) then verb := 'compliance_mode'; end if;
    when 'personas' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := row_data ->> 'id';
    when 'conversations' then
      organization := (row_data ->> 'organization_id')::uuid;
      object := row_data ->> 'id';
      if 'support_status' = any(changed) then verb := 'support_status';
      elsif 'support_assignee_id' = any(changed) then verb := 'support_assign';
      end if;
    when 'conversation_members' then
      select c.organization_id into organization from public.conversations c
      where c.id = (row_data ->> 'conversation_id')::uuid;
      object := (row_data ->> 'conversation_id') || '/' || (row_data ->> 'user_id');
      verb := case tg_op when 'INSERT' then 'add' when 'DELETE' then 'remove'
                         else case when 'role' = any(changed) then 'role_change' else 'update' end end;
      if organization is null then
        return null;  -- the conversation was deleted in this transaction (its deletion is the entry)
      end if;
    when 'messages' then
      select c.organization_id into organization from public.conversations c
      where c.id = (row_data ->> 'conversation_id')::uuid;
      object := row_data ->> 'id';
      persona := (row_data ->> 'persona_id')::uuid;
      verb := case when 'deleted_at' = any(changed) and new_row ->> 'deleted_at' is not null then 'delete'
                   when 'body' = any(changed) then 'edit'
                   when new_row ->> 'pinned_at' is not null then 'pin'
                   else 'unpin' end;
      old_values := old_values || pg_catalog.jsonb_build_object('conversation_id', row_data -> 'conversation_id');
      new_values := new_values || pg_catalog.jsonb_build_object('conversation_id', row_data -> 'conversation_id');
      if organization is null then
        return null;
      end if;
    when 'message_senders' then
      select c.organization_id, m.conversation_id, m.kind
        into organization, object, verb
      from public.messages m join public.conversations c on c.id = m.conversation_id
      where m.id = (row_data ->> 'message_id')::bigint;
      if organization is null then
        return null;
      end if;
      new_values := new_values || pg_catalog.jsonb_build_object('conversation_id', object, 'kind', verb);
      persona := (row_data ->> 'persona_id')::uuid;
      verb := case when persona is not null then 'send_as_persona' when verb = 'notice' then 'send_notice'
                   else 'send_as_support' end;
      object := row_data ->> 'message_id';
    when 'support_assignments' then
      -- The real assignee of a support conversation (issue 12: kept out of the customer's row).
      select c.organization_id into organization from public.conversations c
      where c.id = (row_data ->> 'conversation_id')::uuid;
      object := row_data ->> 'conversation_id';
      verb := 'support_assign';
      if organization is null then
        return null;
      end if;
    when 'message_reactions' then
      -- Staff reactions shown as the persona or Support (user_id null): who really reacted (issue 12).
      select c.organization_id, m.conversation_id into organization, object
      from public.messages m join public.conversations c on c.id = m.conversation_id
      where m.id = (row_data ->> 'message_id')::bigint;
      if organization is null then
        return null;
      end if;
      persona := (row_data ->> 'persona_id')::uuid;
      old_values := old_values || pg_catalog.jsonb_build_object('conversation_id', object);
      new_values := new_values || pg_catalog.jsonb_build_object('conversation_id', object);
      verb := case tg_op when 'INSERT' then 'react' else 'unreact' end;
      object := row_data ->> 'message_id';
    when 'privacy_settings' then
      subject := (row_data ->> 'user_id')::uuid;
      object := row_data ->> 'user_id';
    when 'blocks' then
      subject := (row_data ->> 'blocker_id')::uuid;
      object := row_data ->> 'blocked_id';
    else
      raise exception 'audit_row_change: % is not an audited table', tg_table_name using errcode = '22023';
  end case;

  -- Rows deleted by the cascade of an organization's deletion: the
  -- organization.delete entry closes the chain, its children add nothing.
  if organization is not null and tg_table_name <> 'organizations'
     and not exists (select 1 from public.organizations o where o.id = organization) then
    return null;
  end if;

  perform parley_internal.audit_append(organization, subject, persona, entity || '.' || verb,
                                       tg_table_schema || '.' || tg_table_name, object, old_values, new_values);
  return null;
end
$$;
comment on function parley_internal.audit_row_change() is
  'Trigger (AFTER, per row): append an audit entry for the change (tg_argv[0] names the entity); updates that change only updated_at leave none.';
select parley_internal.restrict_function('parley_internal.audit_row_change()', '{}');

-- The audited tables. Membership, roles, permissions, plans, settings,
-- personas, support assignment and status, privacy and blocks: every change
-- (settings rows created with their defaults, alongside an organization or a
-- user, are not changes and leave no entry).
-- Messages: edits, deletions and pins. Persona, Support and notice sends: through
-- parley_internal.message_senders, which names the real staff user.
drop trigger if exists organizations_audit on public.organizations;
create trigger organizations_audit after insert or update or delete on public.organizations
  for each row execute function parley_internal.audit_row_change('organization');

drop trigger if exists organization_members_audit on public.organization_members;
create trigger organization_members_audit after insert or update or delete on public.organization_members
  for each row execute function parley_internal.audit_row_change('organization_member');

drop trigger if exists organization_invitations_audit on public.organization_invitations;
create trigger organization_invitations_audit after insert or update or delete on public.organization_invitations
  for each row execute function parley_internal.audit_row_change('organization_invitation');

drop trigger if exists organization_role_permissions_audit on public.organization_role_permissions;
create trigger organization_role_permissions_audit
  after insert or update or delete on public.organization_role_permissions
  for each row execute function parley_internal.audit_row_change('organization_permission');

drop trigger if exists role_permissions_audit on public.role_permissions;
create trigger role_permissions_audit after insert or update or delete on public.role_permissions
  for each row execute function parley_internal.audit_row_change('role_permission');

drop trigger if exists organization_settings_audit on public.organization_settings;
create trigger organization_settings_audit after update or delete on public.organization_settings
  for each row execute function parley_internal.audit_row_change('organization_settings');

drop trigger if exists personas_audit on public.personas;
create trigger personas_audit after insert or update or delete on public.personas
  for each row execute function parley_internal.audit_row_change('persona');

drop trigger if exists conversations_audit on public.conversations;
create trigger conversations_audit after update or delete on public.conversations
  for each row execute function parley_internal.audit_row_change('conversation');

drop trigger if exists conversation_members_audit on public.conversation_members;
create trigger conversation_members_audit after insert or delete on public.conversation_members
  for each row execute function parley_internal.audit_row_change('conversation_member');
drop trigger if exists conversation_members_role_audit on public.conversation_members;
create trigger conversation_members_role_audit after update of role on public.conversation_members
  for each row when (old.role is distinct from new.role)
  execute function parley_internal.audit_row_change('conversation_member');

drop trigger if exists messages_audit on public.messages;
create trigger messages_audit after update of body, deleted_at, pinned_at on public.messages
  for each row when (old.body is distinct from new.body or old.deleted_at is distinct from new.deleted_at
                     or old.pinned_at is distinct from new.pinned_at)
  execute function parley_internal.audit_row_change('message');

drop trigger if exists message_senders_audit on parley_internal.message_senders;
create trigger message_senders_audit after insert on parley_internal.message_senders
  for each row execute function parley_internal.audit_row_change('message');

drop trigger if exists privacy_settings_audit on public.privacy_settings;
create trigger privacy_settings_audit after update or delete on public.privacy_settings
  for each row execute function parley_internal.audit_row_change('privacy_settings');

drop trigger if exists blocks_audit on public.blocks;
create trigger blocks_audit after insert or update or delete on public.blocks
  for each row execute function parley_internal.audit_row_change('block');

-- Staff reading outside membership ("admin override", seed 002).
create or replace function parley_internal.audit_staff_read(conversation_id uuid)
returns boolean
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  reader uuid := auth.uid();
  conversation public.conversations;
  recorded boolean;
begin
  if reader is null or audit_staff_read.conversation_id is null
     or parley_internal.is_conversation_member(audit_staff_read.conversation_id, reader) then
    return false;
  end if;
  select * into conversation from public.conversations c where c.id = audit_staff_read.conversation_id;
  if not found or not (parley_internal.can_read_conversation(conversation.id, reader)
                       or parley_internal.is_compliance_reader(conversation.id, reader)) then
    return false;  -- not a read that will happen: the caller refuses it
  end if;
  if pg_catalog.current_setting('transaction_read_only') = 'on' then
    perform parley_internal.refuse('25006', 'audit_requires_write',
      'Reading a conversation you are not a member of is audited, which needs a read-write request.',
      'Call the function with POST (supabase-js rpc() does by default), not GET.');
  end if;
  insert into parley_internal.audit_staff_reads as r (conversation_id, user_id, recorded_at)
  values (conversation.id, reader, pg_catalog.now())
  on conflict on constraint audit_staff_reads_pkey do update set recorded_at = excluded.recorded_at
    where r.recorded_at <= excluded.recorded_at - interval '10 minutes'
  returning true into recorded;
  if recorded is null then
    return false;  -- traced less than 10 minutes ago
  end if;
  perform parley_internal.audit_append(conversation.organization_id, null, null, 'conversation.staff_read',
    'public.conversations', conversation.id::text, null,
    pg_catalog.jsonb_build_object('conversation_id', conversation.id, 'kind', conversation.kind,
                                  'subject_user_id', conversation.subject_user_id,
                                  'permission', case when parley_internal.is_conversation_staff(conversation.id, reader)
                                                     then parley_internal.staff_permission_for(conversation)
                                                     else 'chat.audit_read' end));
  return true;
end
$$;
comment on function parley_internal.audit_staff_read(uuid) is
  'Call before a staff user reads a conversation: when the caller may read it without being a member, append conversation.staff_read (at most once per staff user per conversation per 10 minutes). Returns whether an entry was written; no-op for members. Refuses 25006 audit_requires_write in a read-only transaction.';
select parley_internal.restrict_function('parley_internal.audit_staff_read(uuid)', '{}');

-- Who reads which organization's audit trail.
create or replace function parley_internal.audit_readable_organization_ids(user_id uuid)
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select m.organization_id from public.organization_members m
  where m.user_id = audit_readable_organization_ids.user_id
    and parley_internal.has_permission(m.organization_id, 'chat.audit_read', m.user_id)
$$;
comment on function parley_internal.audit_readable_organization_ids(uuid) is
  'The organizations whose audit log the user reads (those where they hold chat.audit_read). Policies use it as "organization_id in (select ...)".';
select parley_internal.restrict_function('parley_internal.audit_readable_organization_ids(uuid)', '{}');

create or replace function parley_internal.my_audit_organization_ids()
returns setof uuid
language sql
stable
security definer
set search_path = ''
as $$
  select parley_internal.audit_readable_organization_ids((select auth.uid()))
$$;
comment on function parley_internal.my_audit_organization_ids() is
  'Policy helper: the organizations whose audit log the current user reads (chat.audit_read).';
select parley_internal.restrict_function('parley_internal.my_audit_organization_ids()', '{authenticated}');

-- Refuse unless the caller is service_role or holds chat.audit_read in the organization.
create or replace function parley_internal.require_audit_reader(organization_id uuid)
returns void
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  caller uuid;
begin
  if auth.role() = 'service_role' then
    return;
  end if;
  caller := parley_internal.require_user();
  if not parley_internal.is_organization_member(require_audit_reader.organization_id, caller) then
    perform parley_internal.refuse('PT404', 'organization_not_found', 'No such organization.',
      'Check the organization id; you must be a member.');
  end if;
  if not parley_internal.has_permission(require_audit_reader.organization_id, 'chat.audit_read', caller) then
    perform parley_internal.refuse('42501', 'no_permission', 'Reading the audit log needs chat.audit_read.',
      'Ask an owner of the organization for the chat.audit_read permission.');
  end if;
end
$$;
comment on function parley_internal.require_audit_reader(uuid) is
  'Refuse (PT404 organization_not_found, 42501 no_permission) unless the caller is service_role or holds chat.audit_read in the organization.';
select parley_internal.restrict_function('parley_internal.require_audit_reader(uuid)', '{}');

-- Verification: walk one chain in order, recompute every hash.
create or replace function parley_internal.verify_chain(
  chain text,
  out ok boolean,
  out entries_checked bigint,
  out last_hash text,
  out broken_entry_id bigint,
  out reason text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  entry public.audit_log;
  previous bytea := '\x'::bytea;
  previous_id bigint := 0;
  head parley_internal.audit_chain_heads;
  pending jsonb;
begin
  ok := false;
  entries_checked := 0;
  for entry in
    select * from public.audit_log a where a.chain = verify_chain.chain order by a.chain_seq, a.id
  loop
    if entry.chain_seq <> entries_checked + 1 then
      broken_entry_id := entry.id;
      reason := 'sequence_gap';  -- an entry before this one is missing (or this one was added out of band)
      return;
    end if;
    if entry.id <= previous_id then
      broken_entry_id := entry.id;
      reason := 'order_mismatch';  -- ids no longer follow the chain order
      return;
    end if;
    if entry.hash is distinct from parley_internal.audit_entry_hash(previous, entry) then
      broken_entry_id := entry.id;
      reason := 'hash_mismatch';  -- this entry, or the hash of the one before it, was changed
      return;
    end if;
    previous := entry.hash;
    previous_id := entry.id;
    entries_checked := entries_checked + 1;
  end loop;
  -- The head: this transaction's own pending one if it appended to the chain, else the committed row.
  pending := parley_internal.audit_pending_head(verify_chain.chain);
  if pending is not null then
    head.last_seq := (pending ->> 'seq')::bigint;
    head.last_hash := pg_catalog.decode(pending ->> 'hash', 'hex');
    head.last_id := (pending ->> 'id')::bigint;
  else
    select * into head from parley_internal.audit_chain_heads h where h.chain = verify_chain.chain;
  end if;
  if coalesce(head.last_seq, 0) <> entries_checked or coalesce(head.last_hash, '\x'::bytea) <> previous then
    broken_entry_id := coalesce(head.last_id, previous_id);
    reason := 'head_mismatch';  -- the newest entries are missing, or the head was changed
    return;
  end if;
  ok := true;
  last_hash := pg_catalog.encode(previous, 'hex');
end
$$;
comment on function parley_internal.verify_chain(text) is
  'Verify one audit hash chain: ok, entries checked, the last hash (an anchor to keep elsewhere), or the first broken entry and why (sequence_gap, order_mismatch, hash_mismatch, head_mismatch).';
select parley_internal.restrict_function('parley_internal.verify_chain(text)', '{}');

create or replace function parley_internal.verify_audit_chain(
  organization_id uuid,
  out ok boolean,
  out entries_checked bigint,
  out last_hash text,
  out broken_entry_id bigint,
  out reason text
)
language sql
stable
security definer
set search_path = ''
as $$
  select * from parley_internal.verify_chain('organization:' || verify_audit_chain.organization_id::text)
$$;
comment on function parley_internal.verify_audit_chain(uuid) is
  'Verify the organization''s audit hash chain (no permission check: internal).';
select parley_internal.restrict_function('parley_internal.verify_audit_chain(uuid)', '{service_role}');

create or replace function parley_internal.verify_audit_log(
  organization_id uuid,
  out ok boolean,
  out entries_checked bigint,
  out last_hash text,
  out broken_entry_id bigint,
  out reason text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
  perform parley_internal.require_audit_reader(verify_audit_log.organization_id);
  select * into ok, entries_checked, last_hash, broken_entry_id, reason
  from parley_internal.verify_audit_chain(verify_audit_log.organization_id);
end
$$;
comment on function parley_internal.verify_audit_log(uuid) is
  'Staff with chat.audit_read (and service_role): check the organization''s audit hash chain. ok is true when every entry''s hash matches; otherwise broken_entry_id is the first broken entry and reason says why (sequence_gap, order_mismatch, hash_mismatch, head_mismatch). last_hash is the chain''s newest hash, to keep elsewhere as an anchor.';
select parley_internal.publish_function('parley_internal.verify_audit_log(uuid)', '{authenticated,service_role}');

create or replace function parley_internal.verify_all_audit_chains()
returns table (chain text, ok boolean, entries_checked bigint, last_hash text, broken_entry_id bigint, reason text)
language sql
stable
security definer
set search_path = ''
as $$
  select chains.chain, v.ok, v.entries_checked, v.last_hash, v.broken_entry_id, v.reason
  from (select h.chain from parley_internal.audit_chain_heads h
        union
        select distinct a.chain from public.audit_log a) as chains,
       lateral parley_internal.verify_chain(chains.chain) as v
  order by v.ok, chains.chain
$$;
comment on function parley_internal.verify_all_audit_chains() is
  'service_role: verify every audit hash chain (organizations, users, global), broken chains first.';
select parley_internal.publish_function('parley_internal.verify_all_audit_chains()', '{service_role}');
