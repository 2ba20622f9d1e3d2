-- The result type of the decision RPCs can_message and can_call.

do $types$
begin
  if to_regtype('public.contact_decision') is null then
    create type public.contact_decision as (allowed boolean, reason text);
    comment on type public.contact_decision is 'Whether an action is allowed, and a stable reason code (ok, blocked, privacy, ...).';
  end if;
end
$types$;
