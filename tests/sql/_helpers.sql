\set ECHO none
-- Included by every tests/sql/<domain>.sql inside its transaction (so it is rolled back too):
-- psql settings that keep the output stable, and pg_temp.try(sql), which runs one statement
-- and tells 'ok' or the error it raised: SQLSTATE, then for our CAnnn errors the code
-- (MESSAGE), the field (DETAIL) and the sentence (HINT), for others the message.
\pset pager off
set local client_min_messages = warning;
set local timezone = 'UTC';
create function pg_temp.try(p_sql text) returns text
language plpgsql as $$
declare
    v_state text; v_msg text; v_detail text; v_hint text;
begin
    execute p_sql;
    return 'ok';
exception when others then
    get stacked diagnostics v_state = returned_sqlstate, v_msg = message_text,
        v_detail = pg_exception_detail, v_hint = pg_exception_hint;
    if v_state like 'CA%' then
        return format('%s %s field=%s: %s', v_state, v_msg, coalesce(nullif(v_detail, ''), '-'),
                      v_hint);
    end if;
    return format('%s %s', v_state, v_msg);
end $$;
-- Personal data comes to SQL sealed by carnetd (017): pg_temp.pd(v) stands for a marker (its
-- shape only: SQL never opens one), and pg_temp.sealed(body) turns a body's name, email, phone
-- and contact into such markers with what carnetd sends beside them (blind indexes, initial,
-- a walk-in contact's channel and recipient), as booking.c and floor.c do.
create function pg_temp.pd(p_value text) returns text
language sql immutable as $$ select '{{pd:0000000000000000:' || p_value || '}}' $$;
create function pg_temp.sealed(b jsonb) returns jsonb
language plpgsql immutable as $$
declare
    k text;
    v text;
begin
    foreach k in array array['name', 'email', 'phone', 'contact'] loop
        continue when jsonb_typeof(b -> k) is distinct from 'string';
        v := b ->> k;
        b := b || jsonb_build_object(k, pg_temp.pd(v));
        if k = 'name' then
            b := b || jsonb_build_object('initial', upper(left(btrim(v), 1)) || '.');
        else
            b := b || jsonb_build_object(k || '_bi', encode(sha256(convert_to(lower(v), 'UTF8')), 'hex'));
        end if;
        if k = 'contact' and v like '%@%' then
            b := b || jsonb_build_object('contact_channel', 'email',
                                         'contact_recipient', pg_temp.pd(v));
        end if;
    end loop;
    return b;
end $$;
-- The demo people and stores, by name, as psql variables.
select (select id from stores where code = 'paris-opera') as paris,
       (select id from stores where code = 'lyon-part-dieu') as lyon,
       (select id from staff where email = 'admin@carnet.test') as admin,
       (select id from staff where email = 'manager@carnet.test') as manager,
       (select id from staff where email = 'specialist@carnet.test') as specialist,
       (select id from staff where email = 'tech@carnet.test') as tech,
       (select id from staff where email = 'lyon@carnet.test') as lyon_manager
\gset
\set ECHO all
