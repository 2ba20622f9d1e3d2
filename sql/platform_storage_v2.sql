-- Supabase platform compatibility, second step: Supabase Storage's delete
-- protection.
--
-- Supabase Storage (migration 0055 prevent-direct-deletes) puts a statement
-- trigger on storage.objects and storage.buckets that refuses a DELETE unless
-- the transaction set `storage.allow_delete_query` to 'true' (the Storage API
-- does so before its own deletes), so that a stray SQL DELETE cannot orphan
-- files in the object store. The shim copies it, with the same function,
-- trigger names, message and SQLSTATE, onto the shim's own tables only
-- (recognised by their comment); a Supabase database is left untouched.

do $storage_protect_delete$
begin
  if to_regprocedure('storage.protect_delete()') is null then
    create function storage.protect_delete() returns trigger
    language plpgsql
    set search_path = ''
    as $body$
    begin
      if coalesce(pg_catalog.current_setting('storage.allow_delete_query', true), 'false') <> 'true' then
        raise exception 'Direct deletion from storage tables is not allowed. Use the Storage API instead.'
          using hint = 'This prevents accidental data loss from orphaned objects.', errcode = '42501';
      end if;
      return null;
    end
    $body$;
    comment on function storage.protect_delete() is
      'Refuses DELETE on storage tables unless storage.allow_delete_query is ''true'' (as Supabase Storage does).';
  end if;

  if pg_catalog.obj_description('storage.objects'::pg_catalog.regclass, 'pg_class')
       = 'Compatibility copy of Supabase Storage''s objects table.'
     and not exists (select 1 from pg_catalog.pg_trigger
                     where tgrelid = 'storage.objects'::pg_catalog.regclass and tgname = 'protect_objects_delete') then
    create trigger protect_objects_delete before delete on storage.objects
      for each statement execute function storage.protect_delete();
  end if;

  if pg_catalog.obj_description('storage.buckets'::pg_catalog.regclass, 'pg_class')
       = 'Compatibility copy of Supabase Storage''s buckets table.'
     and not exists (select 1 from pg_catalog.pg_trigger
                     where tgrelid = 'storage.buckets'::pg_catalog.regclass and tgname = 'protect_buckets_delete') then
    create trigger protect_buckets_delete before delete on storage.buckets
      for each statement execute function storage.protect_delete();
  end if;
end
$storage_protect_delete$;
