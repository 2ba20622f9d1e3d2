-- Message search (issue 17): what the schema needs for search_messages
-- (functions/message_search.sql, docs/search.md). Applied once; alters
-- existing tables, so it is a file of its own (sql/ files are never edited).
--
-- * pg_trgm, in the schema `extensions` as Supabase installs it (the shim's
--   sql/platform_roles.sql creates that schema on vanilla PostgreSQL).
-- * organization_settings.search_language: the organization's stemming
--   language (a built-in snowball configuration); 'simple' (no stemming,
--   no stop words) by default.
-- * messages.search_language: the organization's language when the message
--   was sent (null = simple), so the stored vector is a function of the row.
-- * messages.search_vector: a STORED generated tsvector (simple lexemes,
--   plus the stemmed lexemes when a language is set) with a GIN index.
--   Chosen over an expression index by measurement (docs/search.md): ranking
--   reads the stored vector instead of re-parsing every matching body
--   (ranked search of a common word over 1M messages: 0.2 s against 2.6 s),
--   for the same insert-time parse.
-- * attachments: a trigram index on the lower-cased file name (fuzzy file
--   name search).
--
-- On an existing large table the generated column rewrites public.messages
-- under an exclusive lock (about 25 s per million messages on the benchmark
-- machine); plan the migration accordingly.

do $$
declare
  installed_in text;
begin
  select n.nspname into installed_in
  from pg_catalog.pg_extension e join pg_catalog.pg_namespace n on n.oid = e.extnamespace
  where e.extname = 'pg_trgm';
  if installed_in is null then
    create extension pg_trgm with schema extensions;
  elsif installed_in <> 'extensions' then
    raise exception 'pg_trgm is installed in schema %, Parley expects it in schema extensions', installed_in
      using errcode = '55000',
            hint = 'Move it (alter extension pg_trgm set schema extensions), as Supabase installs extensions.';
  end if;
end
$$;

-- The stored vector of a message. IMMUTABLE: it depends only on its arguments (the configuration names are
-- pg_catalog's built-in snowball configurations, restricted by the check constraints below).
create or replace function parley_internal.message_search_vector(search_language text, body text)
returns pg_catalog.tsvector
language sql
immutable
parallel safe
set search_path = ''
as $$
  select case
    when body is null then ''::pg_catalog.tsvector
    when search_language is null or search_language = 'simple'
      then pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig, body)
    else pg_catalog.to_tsvector('pg_catalog.simple'::pg_catalog.regconfig, body)
         operator(pg_catalog.||)
         pg_catalog.to_tsvector(('pg_catalog.' operator(pg_catalog.||) search_language)::pg_catalog.regconfig, body)
  end
$$;
comment on function parley_internal.message_search_vector(text, text) is
  'The search vector of a message body: its simple lexemes (exact words, prefixes), followed by its stemmed lexemes in the given snowball language (null or simple: none). Empty for a deleted message.';
-- service_role may insert into messages directly, which evaluates the generated column.
select parley_internal.restrict_function('parley_internal.message_search_vector(text, text)', '{service_role}');

alter table public.organization_settings
  add column if not exists search_language text not null default 'simple';
do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint
                 where conrelid = 'public.organization_settings'::regclass
                   and conname = 'organization_settings_search_language') then
    alter table public.organization_settings add constraint organization_settings_search_language
      check (search_language in ('simple', 'arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english',
                                 'finnish', 'french', 'german', 'greek', 'hindi', 'hungarian', 'indonesian',
                                 'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese',
                                 'romanian', 'russian', 'serbian', 'spanish', 'swedish', 'tamil', 'turkish',
                                 'yiddish'));
  end if;
end
$$;
comment on column public.organization_settings.search_language is
  'Stemming language of message search (a PostgreSQL snowball configuration such as english or german; simple = no stemming). Applies to messages sent after a change.';
grant update (search_language) on table public.organization_settings to authenticated;

alter table public.messages add column if not exists search_language text;
do $$
begin
  if not exists (select 1 from pg_catalog.pg_constraint
                 where conrelid = 'public.messages'::regclass and conname = 'messages_search_language') then
    alter table public.messages add constraint messages_search_language
      check (search_language is null
             or search_language in ('arabic', 'armenian', 'basque', 'catalan', 'danish', 'dutch', 'english',
                                    'finnish', 'french', 'german', 'greek', 'hindi', 'hungarian', 'indonesian',
                                    'irish', 'italian', 'lithuanian', 'nepali', 'norwegian', 'portuguese',
                                    'romanian', 'russian', 'serbian', 'spanish', 'swedish', 'tamil', 'turkish',
                                    'yiddish'));
  end if;
end
$$;
comment on column public.messages.search_language is
  'The organization''s search language when the message was sent (stemming of search_vector); null = simple.';

alter table public.messages add column if not exists search_vector pg_catalog.tsvector
  generated always as (parley_internal.message_search_vector(search_language, body)) stored;
comment on column public.messages.search_vector is
  'Full-text search vector of the body (generated): simple lexemes plus stemmed ones in search_language. Search through search_messages.';
create index if not exists messages_search_vector_idx on public.messages using gin (search_vector);

create index if not exists attachments_file_name_trgm_idx on public.attachments
  using gin (pg_catalog.lower(file_name) extensions.gin_trgm_ops) where message_id is not null;

-- One row of search_messages (a named type: the argument conversation_id would clash with a RETURNS TABLE
-- column). No deleted_by/pinned_by/client_msg_id: a search hit shows what the sender shows, nothing more.
do $$
begin
  if not exists (select 1 from pg_catalog.pg_type t
                 where t.typname = 'message_search_row' and t.typnamespace = 'public'::regnamespace) then
    create type public.message_search_row as (
      id bigint,
      conversation_id uuid,
      sender_kind text,
      sender_id uuid,
      persona_id uuid,
      kind text,
      body text,
      reply_to_message_id bigint,
      created_at timestamptz,
      edited_at timestamptz,
      headline text,
      rank real,
      attachment_match boolean,
      next_cursor text,
      has_more boolean
    );
  end if;
end
$$;
comment on type public.message_search_row is 'One hit of search_messages: the message (sender as the conversation shows it: a persona message names the persona, never the staff user), headline (HTML-escaped body with the matches in <mark></mark>), rank (ts_rank_cd, plus 0.1 for a file name match), attachment_match (an attachment''s file name matched), next_cursor (pass it as cursor for the hits after this one) and has_more.';
