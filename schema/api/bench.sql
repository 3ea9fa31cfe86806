-- The bench queue: repair orders handed over from the floor (floor_handover) that no technician
-- has taken yet, listed on the technicians' tablets, live through the store's events, and taken
-- by one technician at a time (the row lock and the technician_id re-check make a second taker
-- get 409).
--
-- Loaded after the numbered migrations on every migrate, so this file holds each function's
-- one current definition (create or replace); tables change only in numbered migrations (024).

create or replace function bench_item_json(r repair_orders) returns json
language sql stable as $$
    select json_build_object('id', r.id, 'number', r.number, 'state', r.state,
                             'problem', r.problem, 'bench_since', r.bench_since,
                             'device', json_build_object('serial', d.serial, 'model', d.model),
                             'opened_by', (select name from staff where id = r.opened_by),
                             'technician_id', r.technician_id, 'taken_at', r.taken_at,
                             'promised_at', r.promised_at, 'forecast', promise_forecast(r))
    from devices d where d.id = r.device_id
$$;

-- GET /api/stores/{store}/bench: the intakes nobody has taken yet, oldest first.
create or replace function bench_list(p_actor bigint, p_store bigint) returns json
language plpgsql stable as $$
begin
    perform carnet_require(p_actor, p_store, array['specialist', 'technician', 'manager']);
    return coalesce((select json_agg(bench_item_json(r) order by r.bench_since, r.id)
                     from repair_orders r
                     where r.store_id = p_store and r.bench_since is not null
                       and r.technician_id is null
                       and not (select terminal from repair_states where state = r.state)),
                    '[]'::json);
end $$;

-- POST /api/repairs/{id}/take: the calling technician takes a repair off the bench queue.
-- Answers the repair order as GET /api/repairs/{id} does.
create or replace function bench_take(p_actor bigint, p_id bigint, p_req text) returns json
language plpgsql as $$
declare
    r repair_orders := repair_lock(p_actor, p_id, array['technician', 'manager']);
begin
    perform repair_check_open(r);
    if r.technician_id is not null then
        perform carnet_fail_extra(409, 'already_taken', 'technician_id',
            format('%s is already taken', r.number),
            jsonb_build_object('technician_id', r.technician_id,
                               'technician', (select name from staff where id = r.technician_id)));
    end if;
    update repair_orders set technician_id = p_actor, taken_at = now(), updated_at = now()
    where id = r.id returning * into r;
    perform carnet_audit(p_actor, 'take', 'repair', r.id::text, p_req);
    perform floor_emit(r.store_id, 'bench_taken', null::visits,
                       jsonb_build_object('repair_id', r.id, 'number', r.number,
                                          'technician', (select name from staff where id = p_actor)));
    return repair_json(r.id);
end $$;
