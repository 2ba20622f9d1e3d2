-- Message input validation (issue 4): body, metadata, id lists, emoji and
-- notice styles, refused with a reason before anything is written. Used by
-- the send path (functions/message_send.sql) and edits and reactions
-- (functions/message_changes.sql).

-- Validation --------------------------------------------------------------

create or replace function parley_internal.validate_message_body(body text, max_length integer, allow_empty boolean)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  if body is null or body = '' then
    if allow_empty then
      return '';
    end if;
    perform parley_internal.refuse('P0001', 'empty_body', 'A message needs some text.',
      'Type a message, or attach a file to send an image, file, audio or video without a caption.');
  end if;
  if pg_catalog.length(body) > max_length then
    perform parley_internal.refuse('P0001', 'body_too_long',
      pg_catalog.format('A message has at most %s characters.', max_length),
      'Shorten the message or split it into several.');
  end if;
  -- Control characters except tab (\u0009) and newline (\u000a); NUL cannot reach a text value at all.
  if body ~ '[\u0001-\u0008\u000b-\u001f\u007f-\u009f]' then
    perform parley_internal.refuse('P0001', 'control_characters', 'A message cannot contain control characters.',
      'Only tabs and line feeds (\n) are allowed; remove carriage returns and other control characters.');
  end if;
  if not allow_empty and body ~ '^[[:space:]\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff]*$' then
    perform parley_internal.refuse('P0001', 'empty_body', 'A message needs some text, not only spaces.',
      'Type a message.');
  end if;
  return body;
end
$$;
comment on function parley_internal.validate_message_body(text, integer, boolean) is
  'Refuse a message body that is empty or only whitespace (unless allow_empty: an attachment without caption), longer than max_length, or contains control characters other than tab and newline; returns the body ('''' for an allowed empty one).';
select parley_internal.restrict_function('parley_internal.validate_message_body(text, integer, boolean)', '{}');

create or replace function parley_internal.validate_message_metadata(metadata jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if metadata is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(metadata) <> 'object' then
    perform parley_internal.refuse('P0001', 'invalid_metadata', 'metadata is a JSON object.',
      'Pass {} or an object such as {"link": {"url": "https://..."}}.');
  end if;
  if pg_catalog.octet_length(metadata::text) > 8192 then
    perform parley_internal.refuse('P0001', 'metadata_too_large', 'metadata is at most 8 KiB of JSON.',
      'Keep large data in attachments; metadata is for small kind-specific details.');
  end if;
  -- Depth: the object is level 0; nothing may sit at level 6 or deeper.
  if pg_catalog.jsonb_path_exists(metadata, 'strict $.**{6}') then
    perform parley_internal.refuse('P0001', 'metadata_too_deep', 'metadata nests at most 5 levels deep.',
      'Flatten the object.');
  end if;
  return metadata;
end
$$;
comment on function parley_internal.validate_message_metadata(jsonb) is
  'Refuse message metadata that is not a JSON object, over 8 KiB, or nested more than 5 levels; null becomes {}.';
select parley_internal.restrict_function('parley_internal.validate_message_metadata(jsonb)', '{}');

create or replace function parley_internal.validate_id_list(
  ids uuid[], cap integer, reason text, what text, deduplicate boolean
)
returns uuid[]
language plpgsql
immutable
set search_path = ''
as $$
declare
  unique_ids uuid[];
begin
  if ids is null then
    return '{}'::uuid[];
  end if;
  -- Shape and length before any work on the elements (issue 20): [[id]] and huge lists are refused at once.
  perform parley_internal.require_flat_id_list(ids, reason, 'The ' || what || ' list');
  if pg_catalog.cardinality(ids) > cap then
    perform parley_internal.refuse('P0001', 'too_many_' || what,
      pg_catalog.format('A message has at most %s %s.', cap, what), 'Send fewer.');
  end if;
  if pg_catalog.array_position(ids, null) is not null then
    perform parley_internal.refuse('P0001', reason, pg_catalog.format('The %s list contains null.', what),
      'Pass only ids.');
  end if;
  -- First occurrences, in the caller's order (attachments keep their order as positions).
  select coalesce(pg_catalog.array_agg(f.i order by f.first_at), '{}') into unique_ids
  from (select u.i, pg_catalog.min(u.n) as first_at from pg_catalog.unnest(ids) with ordinality as u(i, n)
        group by u.i) f;
  if not deduplicate and pg_catalog.cardinality(unique_ids) <> pg_catalog.cardinality(ids) then
    perform parley_internal.refuse('P0001', reason, pg_catalog.format('The %s list repeats an id.', what),
      'Pass each id once.');
  end if;
  if pg_catalog.cardinality(unique_ids) > cap then
    perform parley_internal.refuse('P0001', 'too_many_' || what,
      pg_catalog.format('A message has at most %s %s.', cap, what), 'Send fewer.');
  end if;
  return unique_ids;
end
$$;
comment on function parley_internal.validate_id_list(uuid[], integer, text, text, boolean) is
  'Check an id list (null becomes empty): refuse (reason) if it is not one-dimensional or contains null, or repeats an id unless deduplicate (then the first occurrences are kept, in order), and too_many_<what> if longer than cap (checked first, duplicates included).';
select parley_internal.restrict_function('parley_internal.validate_id_list(uuid[], integer, text, text, boolean)', '{}');

create or replace function parley_internal.validate_emoji(emoji text)
returns text
language plpgsql
immutable
set search_path = ''
as $$
begin
  -- One emoji sequence (no ASCII except a keycap's leading 0-9, # or *), or a :shortcode:.
  if emoji is null or pg_catalog.length(emoji) not between 1 and 32
     or emoji !~ '^(:[a-z0-9_+-]{1,30}:|[0-9#*]?[^\u0001-\u007f]+)$'
     or emoji ~ '[[:space:][:cntrl:]\u0080-\u00a0\u2000-\u200a\u2028\u2029\u3000]'
     -- Only joiners, variation selectors or other invisible format characters: nothing to show (issue 20).
     or emoji ~ '^[\u200b-\u200f\u2060-\u2064\ufe00-\ufe0f\ufeff\U000e0000-\U000e007f]+$' then
    perform parley_internal.refuse('P0001', 'invalid_emoji', 'That is not an emoji.',
      'Pass one emoji (up to 32 characters, e.g. a flag or a skin-tone sequence) or a :shortcode:.');
  end if;
  return emoji;
end
$$;
comment on function parley_internal.validate_emoji(text) is
  'Refuse a reaction that is not one emoji sequence (up to 32 characters, no ASCII letters or spaces) or a :shortcode:.';
select parley_internal.restrict_function('parley_internal.validate_emoji(text)', '{}');

create or replace function parley_internal.validate_notice_style(style jsonb)
returns jsonb
language plpgsql
immutable
set search_path = ''
as $$
begin
  if style is null then
    return '{}'::jsonb;
  end if;
  if pg_catalog.jsonb_typeof(style) <> 'object'
     or exists (select 1 from pg_catalog.jsonb_each(style) e
                where e.key not in ('background', 'text', 'border')
                   or pg_catalog.jsonb_typeof(e.value) <> 'string'
                   or (e.value #>> '{}') !~ '^#([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$') then
    perform parley_internal.refuse('P0001', 'invalid_style',
      'A notice style has only background, text and border, each a #RGB or #RRGGBB colour.',
      'For example {"background": "#fff3cd", "text": "#664d03", "border": "#ffecb5"}.');
  end if;
  return style;
end
$$;
comment on function parley_internal.validate_notice_style(jsonb) is
  'Refuse a notice style other than an object with optional background, text and border hex colours (#RGB or #RRGGBB); null becomes {}.';
select parley_internal.restrict_function('parley_internal.validate_notice_style(jsonb)', '{}');
