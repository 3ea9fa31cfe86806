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
--
-- The serving role may call this (the sealing job runs in carnetd), so it takes only what a
-- sealing can be (pd_store_allowed): else its credentials alone, without the data key, could
-- write a clear address of their choosing over a customer's sealed one and so redirect their
-- messages, or rewrite the text of a message waiting to be sent. Anything else is refused
-- (422 invalid), the whole call with it: the job never sends such a value.
create or replace function pd_store(p_rows json) returns int
language plpgsql as $$
declare
    r json;
    p pd_columns;
    n int := 0;
    cur text;
    cur_bi text;
begin
    for r in select * from json_array_elements(p_rows) loop
        select * into p from pd_columns where tbl = r->>'t' and col = r->>'c';
        if not found then
            perform carnet_fail(422, 'invalid', 'c', 'not a personal-data column');
        end if;
        execute format('select %I::text, %s from %I where id = $1 for update',
                       p.col, coalesce(quote_ident(p.bi_col), 'null::text'), p.tbl)
        into cur, cur_bi using (r->>'id')::bigint;
        continue when cur is null or md5(cur) is distinct from r->>'old';
        if not pd_store_allowed(p, cur, cur_bi, r->>'v') then
            perform carnet_fail(422, 'invalid', 'v', format(
                '%s.%s of row %s: not a sealing of the value it replaces', p.tbl, p.col, r->>'id'));
        end if;
        execute format('update %I set %I = $1::%s%s where id = $2',
                       p.tbl, p.col, p.typ,
                       case when p.bi_col is not null
                            then format(', %I = $3', p.bi_col) else '' end)
        using r->>'v', (r->>'id')::bigint, r->>'bi';
        n := n + 1;
    end loop;
    return n;
end $$;

-- Text with every marker (a sealed link or personal value, under any key) replaced by the same
-- stand-in: two texts that differ only in their markers' ciphertext compare equal.
create or replace function pd_unmarked(p text) returns text
language sql immutable as $$
    select regexp_replace(p, '\{\{(sealed|pd):[0-9a-f]{16}:[A-Za-z0-9_-]+=*\}\}', '{{}}', 'g')
$$;

-- True when p_new is p_cur with some of its markers sealed again: the same text around them,
-- and each marker either unchanged or now under another key than before (the job re-seals only
-- what is not under its current key; swapping one current marker for another is no sealing).
create or replace function pd_resealed(p_cur text, p_new text) returns boolean
language sql immutable as $$
    with c as (select m[1] as whole, m[2] as kind, m[3] as kid, n
               from regexp_matches(p_cur, '(\{\{(sealed|pd):([0-9a-f]{16}):[A-Za-z0-9_-]+=*\}\})', 'g')
                    with ordinality x(m, n)),
         w as (select m[1] as whole, m[2] as kind, m[3] as kid, n
               from regexp_matches(p_new, '(\{\{(sealed|pd):([0-9a-f]{16}):[A-Za-z0-9_-]+=*\}\})', 'g')
                    with ordinality x(m, n))
    select pd_unmarked(p_cur) = pd_unmarked(p_new)
       and not exists (select 1 from c full join w using (n)
                       where c.n is null or w.n is null or c.kind <> w.kind
                          or (c.kid = w.kid and c.whole <> w.whole))
$$;

-- Whether p_new may take the place of p_cur (blind index p_cur_bi) in column p: what pd_due
-- lists and carnetd's job makes of it, nothing more.
--   'value': a clear value, or one sealed under another key, becomes one marker; one already
--            sealed under the new marker's key only gets its missing blind index (the job
--            opens and seals it again then).
--   'text':  the same text with some of its markers sealed again (pd_resealed).
--   'json':  the same object; its personal members (json_keys) that held a clear value now hold
--            one marker each, and its markers are as in 'text'.
-- The data key stays in carnetd, so a marker cannot be forged; a marker copied from another row
-- onto a value the job has yet to seal cannot be told from a sealing here.
create or replace function pd_store_allowed(p pd_columns, p_cur text, p_cur_bi text, p_new text)
returns boolean
language plpgsql immutable as $$
declare
    o jsonb;
    v jsonb;
    k text;
begin
    if p_new is null then
        return false;
    end if;
    if p.mode = 'value' then
        return pd_is_marker(p_new) and p_cur <> '' and p_cur <> all (pd_placeholders())
           and (not pd_is_marker(p_cur) or substr(p_cur, 6, 16) <> substr(p_new, 6, 16)
                or (p.bi_col is not null and p_cur_bi is null));
    elsif p.mode = 'text' then
        return pd_resealed(p_cur, p_new);
    end if;
    begin
        o := p_cur::jsonb;
        v := p_new::jsonb;
    exception when others then
        return false;
    end;
    if jsonb_typeof(o) <> 'object' or jsonb_typeof(v) <> 'object'
       or not pd_resealed((o - coalesce(p.json_keys, '{}'))::text,
                          (v - coalesce(p.json_keys, '{}'))::text) then
        return false;
    end if;
    foreach k in array coalesce(p.json_keys, '{}') loop
        if jsonb_typeof(o -> k) = 'string' and o ->> k <> '' then
            continue when pd_is_marker(v ->> k)
                      and (not pd_is_marker(o ->> k) or pd_resealed(o ->> k, v ->> k));
            return false;
        end if;
        continue when (o -> k) is not distinct from (v -> k);
        return false;
    end loop;
    return true;
end $$;

-- True when p is exactly one personal-data marker (under any key). A function that takes a
-- value sealed by carnetd checks this much; the clear value's format was checked before sealing.
create or replace function pd_is_marker(p text) returns boolean
language sql immutable as $$
    select p ~ '^\{\{pd:[0-9a-f]{16}:[A-Za-z0-9_-]+=*\}\}$'
$$;
