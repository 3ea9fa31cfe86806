-- Verify: what the record shows beside the chain, checked against the chained entries it was
-- written from. The hash chain proves the entries (carnetd recomputes it); trends read
-- diagnostic_values and the repair pages read repair_orders and repair_moves, rows written in the
-- same transaction as their entry. The serving role cannot edit them (privileges.sql), the owner
-- can: GET /api/devices/{serial}/verify reports such an edit as derived_mismatch once the chain
-- itself verifies.
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace); tables, indexes and data change only in numbered
-- migrations.

-- The device's rows that disagree with its entries: [[entry id, table], ...] by entry id, the
-- entry being the one the rows were written with (NULL for values that belong to no session of
-- this device). '[]' when everything agrees.
create or replace function verify_derived(p_device bigint) returns json
language sql stable as $$
    select coalesce(json_agg(json_build_array(entry, what) order by entry nulls first, what), '[]')
    from (
        -- Each diagnostic session's measured values, exactly as its entry lists them.
        select s.entry_id as entry, 'diagnostic_values' as what
        from diagnostic_sessions s join record_entries e on e.id = s.entry_id
        where s.device_id = p_device
          and exists (
              (select r->>'test', v->>'name', (v->>'value')::numeric, v->>'unit',
                      (e.content->>'performed_at')::timestamptz
               from jsonb_array_elements(e.content->'results') r,
                    jsonb_array_elements(coalesce(r->'values', '[]')) v
               except all
               select test, name, value, unit, performed_at from diagnostic_values
               where session_id = s.id and device_id = p_device)
              union all
              (select test, name, value, unit, performed_at from diagnostic_values
               where session_id = s.id and device_id = p_device
               except all
               select r->>'test', v->>'name', (v->>'value')::numeric, v->>'unit',
                      (e.content->>'performed_at')::timestamptz
               from jsonb_array_elements(e.content->'results') r,
                    jsonb_array_elements(coalesce(r->'values', '[]')) v))
        union all
        -- Values shown in this device's trends that no session of its record wrote.
        select distinct null::bigint, 'diagnostic_values'
        from diagnostic_values v
        where v.device_id = p_device
          and not exists (select 1 from diagnostic_sessions s
                          where s.id = v.session_id and s.device_id = p_device)
        union all
        -- A repair's state is where its last move took it, and its moves are its entries' moves.
        select o.id, x.what
        from repair_orders r
        cross join lateral (
            select min(e.id) as id from record_entries e
            where e.ref_type = 'repair' and e.ref_id = r.id and e.kind = 'repair_opened') o
        cross join lateral (
            select 'repair_orders' as what
            where r.state is distinct from coalesce(
                (select e.content->>'to' from record_entries e
                 where e.ref_type = 'repair' and e.ref_id = r.id and e.kind = 'repair_state'
                 order by e.id desc limit 1), 'intake')
            union all
            select 'repair_moves'
            where (select string_agg(m.from_state || '>' || m.to_state, ',' order by m.id)
                   from repair_moves m where m.repair_id = r.id and m.from_state is not null)
                  is distinct from
                  (select string_agg((e.content->>'from') || '>' || (e.content->>'to'), ','
                                     order by e.id)
                   from record_entries e
                   where e.ref_type = 'repair' and e.ref_id = r.id and e.kind = 'repair_state')) x
        where r.device_id = p_device) found
$$;
