-- Privileges: what the role carnetd serves as may do (migrate applies it after the api files),
-- and the append-only wall of the audit log.
--
-- Two roles (README, "Database roles"): the owner owns every table and function and runs the
-- migrations; the serving role, which carnetd's pool and LISTEN connection use, owns nothing,
-- holds no privilege on any table or sequence, and may execute only the functions carnetd's
-- queries name. Those run as the owner (security definer, with a search_path that a caller
-- cannot redirect), so the serving role can do exactly what the API does and nothing else: it
-- cannot disable a trigger, or update or delete a row of the record by hand.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace) and re-creates its triggers; tables, indexes and
-- data change only in numbered migrations.

-- Applied by migrate in the transaction that loaded the api files (create or replace resets
-- security definer, so it must follow them). p_calls is the text of every query carnetd sends
-- (generated from its sources at build time); each function it names is an entry point.
-- p_serving is the role carnetd serves as, NULL when it serves with the migration's own
-- credentials. Returns NULL, or why the wall is not up (the caller logs it as a warning).
create or replace function privilege_apply(p_serving text, p_calls text) returns text
language plpgsql as $$
declare
    f regprocedure;
    entry regprocedure[];
    stray text;
    super boolean;
begin
    -- Every object the migration role cannot alter would make the grants below fail halfway
    -- with a bare "must be owner"; name the first one instead.
    select format('%s %s belongs to %s', kind, obj, owner) into stray from (
        select 'table' as kind, c.oid::regclass::text as obj, c.relowner::regrole::text as owner
        from pg_class c
        where c.relnamespace = 'public'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S', 'f')
          and not pg_has_role(current_user, c.relowner, 'usage')
        union all
        select 'function', p.oid::regprocedure::text, p.proowner::regrole::text
        from pg_proc p
        where p.pronamespace = 'public'::regnamespace and not pg_has_role(current_user, p.proowner, 'usage')
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')) x
    limit 1;
    if stray is not null then
        raise exception 'migrations run as %, but %', current_user, stray
            using hint = 'the owner role must own every table and function: see README, Database roles';
    end if;

    -- PostgreSQL lets PUBLIC execute every new function. create or replace keeps a function's
    -- grants, so only functions new since the last run still have the default (proacl null).
    for f in
        select p.oid::regprocedure from pg_proc p
        where p.pronamespace = 'public'::regnamespace
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
          and (p.proacl is null or exists (select 1 from aclexplode(p.proacl) a where a.grantee = 0))
    loop
        execute format('revoke all on function %s from public', f);
    end loop;

    -- The entry points: functions of ours named as `name(` in carnetd's queries. SQL folds
    -- unquoted names to lower case; anything else so written (a keyword) names none of ours.
    select coalesce(array_agg(p.oid::regprocedure order by p.oid), '{}') into entry
    from pg_proc p
    where p.pronamespace = 'public'::regnamespace
      and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                      and d.objid = p.oid and d.deptype = 'e')
      and p.proname in (select lower(m[1])
                        from regexp_matches(p_calls, '([A-Za-z_][A-Za-z0-9_]*)\s*\(', 'g') m);
    for f in
        select p.oid::regprocedure from pg_proc p
        where p.oid::regprocedure = any(entry)
          and not (p.prosecdef and coalesce(p.proconfig, '{}') @> array['search_path=public, pg_temp'])
    loop
        execute format('alter function %s security definer set search_path = public, pg_temp', f);
    end loop;

    if p_serving is null then
        return format('carnetd serves as the owner role %s (no --migrate-url): its credentials can '
                      'disable the record''s triggers and rewrite any table', current_user);
    end if;
    select rolsuper into super from pg_roles where rolname = p_serving;
    if not found then
        raise exception 'the serving role % does not exist', p_serving;
    end if;
    if super then
        return format('carnetd serves as %s, a superuser: its credentials can disable the '
                      'record''s triggers and rewrite any table', p_serving);
    end if;
    if pg_has_role(p_serving, current_user, 'member') then
        return format('carnetd serves as %s, which is (or is a member of) the owner role %s: its '
                      'credentials can disable the record''s triggers', p_serving, current_user);
    end if;

    execute format('revoke all on all tables in schema public from %I', p_serving);
    execute format('revoke all on all sequences in schema public from %I', p_serving);
    for f in
        select p.oid::regprocedure from pg_proc p
        where p.pronamespace = 'public'::regnamespace and p.oid::regprocedure <> all(entry)
          and has_function_privilege(p_serving, p.oid, 'execute')
          and not exists (select 1 from pg_depend d where d.classid = 'pg_proc'::regclass
                          and d.objid = p.oid and d.deptype = 'e')
    loop
        execute format('revoke all on function %s from %I', f, p_serving);
    end loop;
    foreach f in array entry loop
        if not has_function_privilege(p_serving, f, 'execute') then
            execute format('grant execute on function %s to %I', f, p_serving);
        end if;
    end loop;

    if (select rolsuper from pg_roles where rolname = current_user) then
        return format('migrations run as %s, a superuser: the API functions it owns run with '
                      'superuser rights; use an owner role that is not one', current_user);
    end if;
    return null;
end $$;

-- Who did what stays written: no role, not even the owner's, rewrites the audit log without
-- first dropping this trigger (an act that is itself a schema change, not a data edit).
create or replace function audit_log_refuse_rewrite() returns trigger
language plpgsql as $$
begin
    perform carnet_fail(409, 'append_only', 'audit_log', 'the audit log is append-only');
    return null;
end $$;

create or replace trigger audit_log_no_rewrite before update or delete on audit_log
    for each row execute function audit_log_refuse_rewrite();

create or replace trigger audit_log_no_truncate before truncate on audit_log
    for each statement execute function audit_log_refuse_rewrite();
