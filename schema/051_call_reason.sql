-- 051: a call-next that explains itself (issue 17, point 2).
--
-- visit_calls   one row per call of a waiting visit (call next, or calling one given person):
--               who called (called_by), for whom (specialist_id), the place the visit held in
--               the store's call order and why it stood there (reason: floor_order's structured
--               reason, kept as it was at the call), and whether it was out of turn: an
--               override names the visit that was next instead (passed_visit_id) and the
--               caller's reason (override_reason, staff free text that may name a customer:
--               sealed by carnetd like other personal data). A visit is called again after a
--               skip, so a call is an event of its own, not columns of the visit; the
--               dashboard counts overrides per period and per staff member from it.
-- A recall (the same person called again) is not a new decision and is not recorded here.
create table visit_calls (
    id bigint generated always as identity primary key,
    visit_id bigint not null references visits(id) on delete cascade,
    store_id bigint not null references stores(id),
    called_at timestamptz not null default now(),
    called_by bigint not null references staff(id),
    specialist_id bigint not null references staff(id),
    position int not null check (position >= 1),
    reason jsonb not null check (jsonb_typeof(reason) = 'object'),
    override boolean not null default false,
    passed_visit_id bigint,
    override_reason text,
    -- (an override's reason is erased with the visit's personal data: retention.sql)
    check (override or (override_reason is null and passed_visit_id is null))
);
create index visit_calls_store_at on visit_calls (store_id, called_at);
create index visit_calls_visit on visit_calls (visit_id);

insert into pd_columns (tbl, col, typ, mode) values ('visit_calls', 'override_reason', 'text', 'value');
create index pd_clear_visit_calls_override_reason on visit_calls (id)
    where override_reason not like '{{pd:%';

-- floor_line gains the reason of each place (floor_order), floor_call_do the call's record and
-- floor_visit_call a body (the reason for calling out of turn): new signatures, so the old ones go.
drop function if exists floor_line(bigint);
drop function if exists floor_call_do(visits, bigint, bigint, text, text);
drop function if exists floor_visit_call(bigint, bigint, text, text);
