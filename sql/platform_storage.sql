-- Supabase platform compatibility: the storage schema (Supabase Storage's
-- tables and path helpers).
--
-- Only the subset Parley uses, with Supabase's names and types. Every object
-- is created only when missing, so a Supabase database is left untouched.

do $storage_schema$
begin
  if to_regnamespace('storage') is null then
    create schema storage;
    grant usage on schema storage to anon, authenticated, service_role;
  end if;

  if to_regclass('storage.buckets') is null then
    create table storage.buckets (
      id text not null primary key,
      name text not null,
      owner uuid,
      owner_id text,
      public boolean default false,
      avif_autodetection boolean default false,
      file_size_limit bigint,
      allowed_mime_types text[],
      created_at timestamp with time zone default now(),
      updated_at timestamp with time zone default now()
    );
    create unique index bname on storage.buckets using btree (name);
    alter table storage.buckets enable row level security;
    grant all on table storage.buckets to anon, authenticated, service_role;
    comment on table storage.buckets is 'Compatibility copy of Supabase Storage''s buckets table.';
  end if;

  if to_regclass('storage.objects') is null then
    create table storage.objects (
      id uuid not null default gen_random_uuid() primary key,
      bucket_id text references storage.buckets (id),
      name text,
      owner uuid,
      owner_id text,
      metadata jsonb,
      user_metadata jsonb,
      path_tokens text[] generated always as (string_to_array(name, '/')) stored,
      version text,
      created_at timestamp with time zone default now(),
      updated_at timestamp with time zone default now(),
      last_accessed_at timestamp with time zone default now()
    );
    create unique index bucketid_objname on storage.objects using btree (bucket_id, name);
    create index name_prefix_search on storage.objects using btree (name text_pattern_ops);
    alter table storage.objects enable row level security;
    grant all on table storage.objects to anon, authenticated, service_role;
    comment on table storage.objects is 'Compatibility copy of Supabase Storage''s objects table.';
  end if;

  if to_regprocedure('storage.foldername(text)') is null then
    execute $fn$
      create function storage.foldername(name text) returns text[]
      language plpgsql immutable
      set search_path = ''
      as $body$
      declare
        parts text[] := pg_catalog.string_to_array(name, '/');
      begin
        return parts[1:pg_catalog.array_length(parts, 1) - 1];
      end
      $body$
    $fn$;
    comment on function storage.foldername(text) is 'The folder names of an object path, outermost first.';
  end if;

  if to_regprocedure('storage.filename(text)') is null then
    execute $fn$
      create function storage.filename(name text) returns text
      language plpgsql immutable
      set search_path = ''
      as $body$
      declare
        parts text[] := pg_catalog.string_to_array(name, '/');
      begin
        return parts[pg_catalog.array_length(parts, 1)];
      end
      $body$
    $fn$;
    comment on function storage.filename(text) is 'The last segment of an object path.';
  end if;

  if to_regprocedure('storage.extension(text)') is null then
    execute $fn$
      create function storage.extension(name text) returns text
      language plpgsql immutable
      set search_path = ''
      as $body$
      declare
        parts text[] := pg_catalog.string_to_array(name, '/');
        file_name text := parts[pg_catalog.array_length(parts, 1)];
      begin
        return pg_catalog.reverse(pg_catalog.split_part(pg_catalog.reverse(file_name), '.', 1));
      end
      $body$
    $fn$;
    comment on function storage.extension(text) is 'The extension of an object path''s file name.';
  end if;
end
$storage_schema$;
