-- Moderation: reports and restrictions are read by the organization's
-- holders of chat.moderate only. Reporters and restricted users follow their
-- own rows through my_reports() and my_restrictions(), which leave out the
-- moderator's identity unless the organization allows it. No write policies:
-- report, resolve, ban, mute, lift and kick go through the RPCs.

drop policy if exists message_reports_select on public.message_reports;
create policy message_reports_select on public.message_reports for select to authenticated
  using (organization_id in (select parley_internal.my_moderated_organization_ids()));

drop policy if exists moderation_restrictions_select on public.moderation_restrictions;
create policy moderation_restrictions_select on public.moderation_restrictions for select to authenticated
  using (organization_id in (select parley_internal.my_moderated_organization_ids()));
