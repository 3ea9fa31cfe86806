-- Personal data at rest (see 017_personal_data.sql): what carnetd's sealing job asks for and
-- hands back. The job is the only writer of a sealed value that was in clear, and of a value
-- re-sealed under a new key; it never decides anything, so the rules stay here.

-- Up to p_limit values per column that are not yet sealed under key p_kid (p_ring: every key id
-- the caller holds, p_kid first). Without p_full, only values in clear (cheap: the partial
-- indexes of 017); with it (start-up, rotation) also: a 'value' column in
-- clear or under another key, a 'text' column holding a marker under another key, a 'json'
-- column with a personal member in clear (or any marker under another key).
-- Returns [{"t": table, "id": id, "c": column, "v": value, "h": md5 of it, "mode": ...,
-- "bi": bi kind, "keys": personal members of a json column}].
-- What erasure and retention write in place of a person ("erased customer", "erased"): not
-- personal data, so never sealed (and never indexed).
create or replace function pd_placeholders() returns text[]
language sql immutable as $$ select array['erased customer', 'erased'] $$;

create or replace function pd_due(p_kid text, p_limit int, p_ring text[], p_full boolean)
returns json
language plpgsql stable as $$
declare
    p pd_columns;
    part json;
    out jsonb := '[]';
    cond text;
begin
    if p_kid !~ '^[0-9a-f]{16}$' then
        perform carnet_fail(422, 'invalid', 'kid', 'a key id is 16 hex digits');
    end if;
    for p in select * from pd_columns order by tbl, col loop
        if not p_full then
            -- Between rotations: only values in clear, found through the partial indexes.
            continue when p.mode <> 'value';
            cond := format('%I is not null and %I <> %L and %I not like %L',
                           p.col, p.col, '', p.col, '{{pd:%');
        elsif p.mode = 'value' then
            -- A marker under a key the caller does not hold is left alone: it is not clear
            -- text, and sealing it again would bury it (a server started with an old key).
            cond := format('%I is not null and %I <> %L and %I not like %L and not (%I ~ %L '
                           'and substr(%I, 6, 16) <> all (%L::text[]))',
                           p.col, p.col, '', p.col, '{{pd:' || p_kid || ':%', p.col,
                           '^\{\{pd:[0-9a-f]{16}:[A-Za-z0-9_-]+\}\}$', p.col, p_ring);
        elsif p.mode = 'text' then
            cond := format('%I::text ~ %L', p.col, '\{\{(sealed|pd):(?!' || p_kid || ':)');
        else
            cond := format('(%I::text ~ %L or exists (select 1 from unnest(%L::text[]) k '
                           'where jsonb_typeof(%I -> k) = ''string'' and %I ->> k <> '''' '
                           'and %I ->> k not like %L))',
                           p.col, '\{\{(sealed|pd):(?!' || p_kid || ':)', p.json_keys, p.col,
                           p.col, p.col, '{{pd:' || p_kid || ':%');
        end if;
        if p.mode = 'value' then
            cond := format('(%s) and %I <> all (pd_placeholders())', cond, p.col);
        end if;
        if p.bi_col is not null and p.mode = 'value' then
            -- A sealed value without its blind index (its writer did not compute one).
            cond := format('(%s) or (%I is null and %I is not null and %I <> %L '
                           'and %I <> all (pd_placeholders()) and not (%I ~ %L '
                           'and substr(%I, 6, 16) <> all (%L::text[])))',
                           cond, p.bi_col, p.col, p.col, '', p.col, p.col,
                           '^\{\{pd:[0-9a-f]{16}:[A-Za-z0-9_-]+\}\}$', p.col, p_ring);
        end if;
        execute format('select coalesce(json_agg(json_build_object(''t'', %L, ''id'', id, '
                       '''c'', %L, ''v'', %I::text, ''h'', md5(%I::text), ''mode'', %L, ''bi'', %L, '
                       '''keys'', %L::text[])), ''[]'') '
                       'from (select id, %I from %I where %s order by id limit %s) x',
                       p.tbl, p.col, p.col, p.col, p.mode, p.bi_kind, p.json_keys, p.col, p.tbl,
                       cond, p_limit)
        into part;
        out := out || part::jsonb;
    end loop;
    return out::json;
end $$;

-- Stores what carnetd sealed: [{"t", "id", "c", "old": md5 of the value it read, "v": the new
-- value, "bi": blind index or null}]. A value changed since it was read is left alone (the
-- next round sees it again). Returns how many values were replaced.
create or replace function pd_store(p_rows json) returns int
language plpgsql as $$
declare
    r json;
    p pd_columns;
    n int := 0;
    k int;
begin
    for r in select * from json_array_elements(p_rows) loop
        select * into p from pd_columns where tbl = r->>'t' and col = r->>'c';
        if not found then
            perform carnet_fail(422, 'invalid', 'c', 'not a personal-data column');
        end if;
        execute format('update %I set %I = $1::%s%s where id = $2 and md5(%I::text) = $3',
                       p.tbl, p.col, p.typ,
                       case when p.bi_col is not null
                            then format(', %I = $4', p.bi_col) else '' end, p.col)
        using r->>'v', (r->>'id')::bigint, r->>'old', r->>'bi';
        get diagnostics k = row_count;
        n := n + k;
    end loop;
    return n;
end $$;

-- True when p is exactly one personal-data marker (under any key). A function that takes a
-- value sealed by carnetd checks this much; the clear value's format was checked before sealing.
create or replace function pd_is_marker(p text) returns boolean
language sql immutable as $$
    select p ~ '^\{\{pd:[0-9a-f]{16}:[A-Za-z0-9_-]+=*\}\}$'
$$;
