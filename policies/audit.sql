-- The audit log: staff holding chat.audit_read read their own organization's
-- entries; nobody else (user-level and global chains are service_role's).
-- No write policies and no write grants: only the audit triggers append.

drop policy if exists audit_log_select on public.audit_log;
create policy audit_log_select on public.audit_log for select to authenticated
  using (organization_id in (select parley_internal.my_audit_organization_ids()));
