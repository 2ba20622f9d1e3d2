-- Message search (issue 17; docs/search.md). Schema in sql/message_search.sql.
--
-- search_messages reads only what the caller may read, through the helpers
-- the other message reads use (functions/conversation_access.sql):
--   * without conversation_id: the caller's member conversations, exactly as
--     the messages table policy (policies/messages.sql) shows them:
--     member_fully_visible_conversation_ids (whole history) plus
--     member_conversation_ids / member_visible_from (since_joined cut-offs);
--   * with conversation_id: message_visible_from, as get_pinned_messages and
--     every message RPC (members from their cut-off; staff of a support,
--     persona or notices conversation all of it; null = not readable: 404),
--     then audit_staff_read, exactly as get_messages: a staff read of a
--     conversation they are not a member of is conversation.staff_read in
--     the audit log (at most once per 10 minutes per staff user and
--     conversation; no-op for members).
-- So staff search a conversation they handle without being a member only by
-- naming it: every such read is one audited conversation. Deleted messages
-- (tombstones) are never hits.

-- The query language --------------------------------------------------------

create or replace function parley_internal.parse_search_query(
  query text,
  languages text[],
  prefix boolean,
  out text_query pg_catalog.tsquery,
  out mentioned_usernames text[],
  out file_words text
)
language plpgsql
stable
security definer
set search_path = ''
as $$
declare
  rest text;
  head text;
  tail text;
  tail_query pg_catalog.tsquery;
  language_name text;
  simple_query pg_catalog.tsquery;
  stemmed pg_catalog.tsquery;
  stemmed_any boolean := false;
  finished boolean;
begin
  -- Length first: nothing below runs on a 10,000-character query.
  if query is null or parley_internal.trim_whitespace(query) = '' then
    perform parley_internal.refuse('P0001', 'empty_query', 'The search query is empty.',
      'Type a word to search for, a "quoted phrase", or @username for mentions.');
  end if;
  if pg_catalog.length(query) > 500 then
    perform parley_internal.refuse('P0001', 'query_too_long', 'The search query is longer than 500 characters.',
      'Search for a few distinctive words instead.');
  end if;

  -- @username: messages that mention that user (message_mentions), not the literal text.
  mentioned_usernames := array(
    select distinct pg_catalog.lower(m[2])
    from pg_catalog.regexp_matches(query, '(^|[[:space:]])@([A-Za-z0-9_.]{3,32})', 'g') as m);
  rest := pg_catalog.regexp_replace(query, '(^|[[:space:]])@[A-Za-z0-9_.]{3,32}', '\1', 'g');
  finished := rest ~ '[[:space:]]$';  -- "word " is a finished word, not a prefix
  rest := parley_internal.trim_whitespace(rest);

  -- As-you-type: the last word, unless the query ends in a space, a quote or a negated word, matches as a
  -- prefix (simple lexemes only: an unfinished word has no stem yet).
  if prefix and not finished and rest ~ '[[:alnum:]_]$' and rest !~ '(^|[[:space:]])-[[:alnum:]_]+$'
     and pg_catalog.length(pg_catalog.regexp_replace(rest, '[^"]', '', 'g')) % 2 = 0 then
    tail := pg_catalog.lower(pg_catalog.substring(rest, '([[:alnum:]_]+)$'));
    if tail <> 'or' then
      head := pg_catalog.left(rest, pg_catalog.length(rest) - pg_catalog.length(tail));
      tail_query := pg_catalog.to_tsquery('pg_catalog.simple'::pg_catalog.regconfig,
                                          '''' operator(pg_catalog.||) tail operator(pg_catalog.||) ''':*');
    end if;
  end if;
  head := coalesce(head, rest);

  simple_query := pg_catalog.websearch_to_tsquery('pg_catalog.simple'::pg_catalog.regconfig, head);
  if tail_query is not null then
    simple_query := simple_query operator(pg_catalog.&&) tail_query;
  end if;
  text_query := simple_query;
  -- Stemmed alternatives, one per language of the searched organizations: a word matches as typed (simple) or by
  -- its stem ("meetings" finds "meeting" in an english organization).
  foreach language_name in array coalesce(languages, '{}') loop
    continue when language_name is null or language_name = 'simple';
    stemmed := pg_catalog.websearch_to_tsquery(('pg_catalog.' operator(pg_catalog.||) language_name)::pg_catalog.regconfig,
                                               head);
    if pg_catalog.numnode(stemmed) > 0 then
      stemmed_any := true;
      if tail_query is not null then
        stemmed := stemmed operator(pg_catalog.&&) tail_query;
      end if;
      text_query := text_query operator(pg_catalog.||) stemmed;
    end if;
  end loop;
  -- Only stop words of the organization's language ("the of"): nothing worth searching for.
  if not stemmed_any and tail_query is null and pg_catalog.cardinality(languages) > 0
     and exists (select 1 from pg_catalog.unnest(languages) l where l <> 'simple') then
    text_query := ''::pg_catalog.tsquery;
  end if;
  if pg_catalog.numnode(text_query) = 0 and pg_catalog.cardinality(mentioned_usernames) = 0 then
    perform parley_internal.refuse('P0001', 'no_search_terms',
      'The search query has no words to search for (only punctuation, operators or common words such as "the").',
      'Add a distinctive word.');
  end if;
  if pg_catalog.numnode(text_query) = 0 then
    text_query := null;
  end if;

  -- File names are matched by trigram word similarity with the query's positive words.
  file_words := parley_internal.trim_whitespace(pg_catalog.regexp_replace(pg_catalog.lower(
    pg_catalog.regexp_replace(rest, '(^|[[:space:]])-[^[:space:]]+', ' ', 'g')), '[^[:alnum:]_.]+|(^|[[:space:]])or([[:space:]]|$)', ' ', 'g'));
  if pg_catalog.length(file_words) < 3 then
    file_words := null;
  end if;
end
$$;
comment on function parley_internal.parse_search_query(text, text[], boolean) is
  'Parse a search query: web-search syntax (quotes, OR, -word) in the simple configuration OR-ed with each given stemming language, the last word as a prefix when prefix is true, @username tokens set apart, and the positive words for file name matching. Refuses empty_query, query_too_long (over 500 characters) and no_search_terms.';
select parley_internal.restrict_function('parley_internal.parse_search_query(text, text[], boolean)', '{}');

create or replace function parley_internal.search_cursor_fingerprint(arguments text)
returns text
language sql
immutable
set search_path = ''
as $$
  select pg_catalog.left(pg_catalog.md5(arguments), 12)
$$;
comment on function parley_internal.search_cursor_fingerprint(text) is
  'A short digest of a search''s arguments, carried in its cursors so a cursor is only accepted by the search it came from.';
select parley_internal.restrict_function('parley_internal.search_cursor_fingerprint(text)', '{}');

-- The RPC ----------------------------------------------------------------------

create or replace function parley_internal.search_messages(
  query text,
  conversation_id uuid default null,
  sender_id uuid default null,
  sent_after timestamptz default null,
  sent_before timestamptz default null,
  kinds text[] default null,
  has_attachment boolean default null,
  order_by text default 'rank',
  prefix boolean default true,
  cursor text default null,
  page_size integer default 20
)
returns setof public.message_search_row
language plpgsql
volatile
security definer
set search_path = ''
as $$
declare
  caller uuid := parley_internal.require_user();
  size integer := coalesce(search_messages.page_size, 20);
  ordering text := coalesce(search_messages.order_by, 'rank');
  scope_ids uuid[];
  scope_floors bigint[];
  full_ids uuid[];
  partial_ids uuid[];
  partial_floors bigint[];
  scope_sql text;
  full_sql text;
  languages text[];
  parsed record;
  mentioned uuid[];
  file_hits bigint[] := '{}';
  fingerprint text;
  decoded text[];
  after_rank real;
  after_id bigint;
  filters text := '';
  cursor_filter text;
  matches text;
  rank_sql text;
  hidden_senders uuid[] := '{}';
  statement text;
begin
  -- Arguments, before anything is read.
  if size not between 1 and 50 then
    perform parley_internal.refuse('P0001', 'invalid_page_size', 'page_size is between 1 and 50.', 'Use 20.');
  end if;
  if ordering not in ('rank', 'newest') then
    perform parley_internal.refuse('P0001', 'invalid_order', 'order_by is rank or newest.',
      'rank: best matches first; newest: most recent first.');
  end if;
  if search_messages.kinds is not null
     and (pg_catalog.cardinality(search_messages.kinds) not between 1 and 9
          or exists (select 1 from pg_catalog.unnest(search_messages.kinds) k
                     where k is null or k not in ('text', 'image', 'file', 'audio', 'video', 'link', 'system',
                                                   'notice', 'call'))) then
    perform parley_internal.refuse('P0001', 'invalid_kinds', 'kinds lists message kinds.',
      'Use text, image, file, audio, video, link, system, notice or call; omit kinds for all.');
  end if;
  if search_messages.sent_after >= search_messages.sent_before then
    perform parley_internal.refuse('P0001', 'invalid_date_range', 'sent_after must be earlier than sent_before.',
      'Swap them, or leave one out.');
  end if;
  fingerprint := parley_internal.search_cursor_fingerprint(pg_catalog.concat_ws('|', search_messages.query,
    search_messages.conversation_id, search_messages.sender_id, search_messages.sent_after,
    search_messages.sent_before, search_messages.kinds::text, search_messages.has_attachment, ordering,
    coalesce(search_messages.prefix, true)));
  if search_messages.cursor is not null then
    -- v1|<rank>|<id>|<fingerprint>, base64: opaque to clients, checked here.
    if search_messages.cursor ~ '^[A-Za-z0-9+/]{4,120}={0,2}$' then
      begin
        decoded := pg_catalog.string_to_array(
          pg_catalog.convert_from(pg_catalog.decode(search_messages.cursor, 'base64'), 'UTF8'), '|');
      exception when others then
        decoded := null;
      end;
    end if;
    if decoded is null or pg_catalog.cardinality(decoded) <> 4 or decoded[1] <> 'v1' or decoded[4] <> fingerprint
       or decoded[2] !~ '^[0-9]{1,10}(\.[0-9]{1,12})?(e-[0-9]{1,2}|e\+?[0-9])?$' or decoded[3] !~ '^[0-9]{1,18}$' then
      perform parley_internal.refuse('P0001', 'invalid_cursor', 'This cursor does not belong to this search.',
        'Pass next_cursor of the previous page of the same search (same query and filters), or no cursor.');
    end if;
    after_rank := decoded[2]::real;
    after_id := decoded[3]::bigint;
  end if;

  -- What the caller may read: one conversation they name, or all their member conversations.
  if search_messages.conversation_id is not null then
    scope_floors := array[parley_internal.message_visible_from(search_messages.conversation_id, caller)];
    if scope_floors[1] is null then
      perform parley_internal.refuse('PT404', 'conversation_not_found', 'No such conversation.',
        'Check the conversation id; you must be able to read it.');
    end if;
    scope_ids := array[search_messages.conversation_id];
    -- Read from the start (one hashed = any in the query) or from a cut-off.
    if scope_floors[1] = 0 then
      full_ids := scope_ids;
      partial_ids := '{}';
      partial_floors := '{}';
    else
      full_ids := '{}';
      partial_ids := scope_ids;
      partial_floors := scope_floors;
    end if;
    select pg_catalog.array_agg(distinct s.search_language) into languages
    from public.conversations c join public.organization_settings s on s.organization_id = c.organization_id
    where c.id = search_messages.conversation_id;
  else
    -- Every conversation the caller is a member of, with the helpers of the messages table policy
    -- (policies/messages.sql): whole history in one set lookup, cut-off conversations (since_joined) one by one.
    full_ids := array(select f.id from parley_internal.member_fully_visible_conversation_ids(caller) as f(id));
    select coalesce(pg_catalog.array_agg(v.id), '{}'), coalesce(pg_catalog.array_agg(v.floor_id), '{}')
      into partial_ids, partial_floors
    from (select c.id, parley_internal.member_visible_from(c.id, caller) as floor_id
          from (select c.id from parley_internal.member_conversation_ids(caller) as c(id)
                except select f.id from pg_catalog.unnest(full_ids) as f(id)) as c) v
    where v.floor_id is not null;
    scope_ids := full_ids || partial_ids;
    if pg_catalog.cardinality(scope_ids) = 0 then
      scope_ids := null;
    end if;
    select pg_catalog.array_agg(distinct s.search_language) into languages
    from public.organization_members om join public.organization_settings s on s.organization_id = om.organization_id
    where om.user_id = caller;
  end if;

  parsed := parley_internal.parse_search_query(search_messages.query, languages, coalesce(search_messages.prefix, true));
  if pg_catalog.cardinality(parsed.mentioned_usernames) > 0 then
    mentioned := array(select p.id from public.profiles p
                       where pg_catalog.lower(p.username) = any (parsed.mentioned_usernames));
    if pg_catalog.cardinality(mentioned) < pg_catalog.cardinality(parsed.mentioned_usernames) then
      return;  -- an unknown @username is mentioned nowhere
    end if;
  end if;
  if scope_ids is null then
    return;
  end if;

  -- Staff reading a conversation they are not a member of (support, persona, notices): audited as get_messages
  -- does (no-op for members).
  if search_messages.conversation_id is not null then
    perform parley_internal.audit_staff_read(search_messages.conversation_id);
  end if;

  if parsed.file_words is not null and parsed.text_query is not null then
    file_hits := array(
      select a.message_id from public.attachments a
      where pg_catalog.lower(a.file_name) operator(extensions.%>) parsed.file_words
        and a.message_id is not null and a.conversation_id = any (scope_ids)
      limit 1000);
  end if;

  -- The page. Dynamic SQL on purpose: planned with the real scope and terms (a generic plan cannot tell a
  -- one-conversation search from a thousand-conversation one, or a rare word from a common one). Every value is
  -- a parameter; only fixed fragments are put together here.
  if parsed.text_query is null then
    -- Mentions only: the candidates are the mentioned users' message_mentions rows.
    matches := 'm.id in (select mm.message_id from public.message_mentions mm where mm.user_id = any ($9)'
               || ' and (mm.conversation_id = any ($1) or mm.conversation_id = any ($2)))';
  elsif pg_catalog.cardinality(file_hits) > 0 then
    matches := '(m.search_vector @@ $3 or m.id = any ($4))';
  else
    matches := 'm.search_vector @@ $3';
  end if;
  if search_messages.sender_id is not null then
    filters := filters || ' and m.sender_id = $5';
  end if;
  -- Senders the caller blocked are hidden as in get_messages (issue 20, functions/group_safety.sql:
  -- blocked_user_ids). Looked up by name so this file also applies before that one exists; once both are merged
  -- the guard is always true and can go.
  if pg_catalog.to_regprocedure('parley_internal.blocked_user_ids(uuid)') is not null then
    execute 'select parley_internal.blocked_user_ids($1)' into hidden_senders using caller;
  end if;
  if pg_catalog.cardinality(hidden_senders) > 0 then
    filters := filters || ' and (m.sender_id is null or m.sender_id <> all ($18))';
  end if;
  if search_messages.sent_after is not null then
    filters := filters || ' and m.created_at >= $6';
  end if;
  if search_messages.sent_before is not null then
    filters := filters || ' and m.created_at < $7';
  end if;
  if search_messages.kinds is not null then
    filters := filters || ' and m.kind = any ($8)';
  end if;
  if search_messages.has_attachment is not null then
    filters := filters || case when search_messages.has_attachment then ' and ' else ' and not ' end
               || 'exists (select 1 from public.attachments a where a.message_id = m.id)';
  end if;
  if mentioned is not null and (parsed.text_query is not null or pg_catalog.cardinality(mentioned) > 1) then
    -- Several @usernames: messages that mention all of them (words AND, as in the text).
    filters := filters || ' and (select pg_catalog.count(*) from public.message_mentions mm where mm.message_id = m.id'
               || ' and mm.user_id = any ($9)) = pg_catalog.cardinality($9)';
  end if;
  if after_id is not null then
    cursor_filter := case ordering when 'rank' then 'where (h.rank, h.id) < ($10, $11)' else 'where h.id < $11' end;
  end if;
  -- A few conversations: "= any", which the planner estimates id by id (a big conversation is not a small one).
  -- Many: "in (select ... unnest)", a hashed semi-join planned without estimating each of a thousand ids.
  full_sql := case when pg_catalog.cardinality(full_ids) <= 50 then 'm.conversation_id = any ($1)'
                   else 'm.conversation_id in (select f.id from pg_catalog.unnest($1::uuid[]) as f(id))' end;
  scope_sql := case when pg_catalog.cardinality(partial_ids) = 0 then full_sql
    else '(' || full_sql || ' '
         || 'or (m.conversation_id = any ($2) and m.id > (select p.floor_id from rows from '
         || '(pg_catalog.unnest($2), pg_catalog.unnest($17)) as p(conversation_id, floor_id) '
         || 'where p.conversation_id = m.conversation_id)))' end;
  rank_sql := '(pg_catalog.ts_rank_cd(m.search_vector, $3) + case when m.id = any ($4) then 0.1 else 0 end)::real';

  statement := pg_catalog.format($q$
    with hits as (
      select m.id, %1$s as rank
      from public.messages m
      where %9$s and %2$s and m.deleted_at is null %3$s
    ),
    page as (
      select h.id, h.rank from hits h %4$s
      order by %5$s limit $12 + 1
    )
    select m.id, m.conversation_id, m.sender_kind, m.sender_id, m.persona_id, m.kind, m.body,
           m.reply_to_message_id, m.created_at, m.edited_at, %6$s, %7$s, m.id = any ($4),
           pg_catalog.encode(pg_catalog.convert_to(
             pg_catalog.concat_ws('|', 'v1', coalesce(p.rank, 0), m.id, $13), 'UTF8'), 'base64'),
           pg_catalog.count(*) over () > $12
    from page p join public.messages m on m.id = p.id
    order by %8$s
    limit $12
    $q$,
    -- 1: the rank of every hit in rank order; newest order ranks only the page (7)
    case when ordering = 'newest' then 'null::real' when parsed.text_query is null then '0::real' else rank_sql end,
    matches,
    filters,
    coalesce(cursor_filter, ''),
    case ordering when 'rank' then 'h.rank desc, h.id desc' else 'h.id desc' end,
    -- 6: the headline: ts_headline marks the matches with U+E000/U+E001 (removed from the body first), then the
    -- text is HTML-escaped and the marks become <mark></mark> (inline: no function call per row). A body of up to
    -- 300 characters is shown whole; a longer one as up to two fragments around the matches.
    pg_catalog.format('pg_catalog.replace(pg_catalog.replace(pg_catalog.replace(pg_catalog.replace('
                      || 'pg_catalog.replace(%s, ''&'', ''&amp;''), ''<'', ''&lt;''), ''>'', ''&gt;''), '
                      || 'pg_catalog.left($14, 1), ''<mark>''), pg_catalog.right($14, 1), ''</mark>'')',
      case when parsed.text_query is null then 'pg_catalog.left(pg_catalog.translate(m.body, $14, ''''), 300)'
           else 'pg_catalog.ts_headline((''pg_catalog.'' operator(pg_catalog.||) coalesce(m.search_language, '
                || '''simple''))::pg_catalog.regconfig, pg_catalog.translate(m.body, $14, ''''), $3, '
                || 'case when pg_catalog.length(m.body) <= 300 then $16 else $15 end)' end),
    -- 7: the rank shown
    case when ordering = 'rank' or parsed.text_query is null then 'p.rank' else rank_sql end,
    case ordering when 'rank' then 'p.rank desc, p.id desc' else 'p.id desc' end,
    scope_sql);
  return query execute statement
    using full_ids, partial_ids, parsed.text_query, file_hits, search_messages.sender_id, search_messages.sent_after,
          search_messages.sent_before, search_messages.kinds, mentioned, after_rank, after_id, size, fingerprint,
          U&'\E000\E001',
          'StartSel="' || U&'\E000' || '", StopSel="' || U&'\E001' || '", MaxWords=35, MinWords=12, ShortWord=2, '
          || 'MaxFragments=2, FragmentDelimiter=" … "',
          'StartSel="' || U&'\E000' || '", StopSel="' || U&'\E001' || '", HighlightAll=true', partial_floors, hidden_senders;
end
$$;
comment on function parley_internal.search_messages(text, uuid, uuid, timestamptz, timestamptz, text[], boolean, text, boolean, text, integer) is
  'Search the messages you can read: web-search syntax ("phrase", OR, -word), the last word as a prefix while typing, stemming in the organization''s search_language, @username for messages mentioning that user, attachment file names by trigram similarity. Filters: conversation_id (required for staff reading a support, persona or notices conversation they are not a member of; audited), sender_id, sent_after/sent_before, kinds, has_attachment. order_by rank (default; ts_rank_cd, then newest) or newest; page_size 1..50 (default 20); pass the last row''s next_cursor as cursor for the next page while has_more. Deleted messages are never found.';
select parley_internal.publish_function(
  'parley_internal.search_messages(text, uuid, uuid, timestamptz, timestamptz, text[], boolean, text, boolean, text, integer)'::regprocedure);
