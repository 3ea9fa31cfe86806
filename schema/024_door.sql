-- 024: from the door to the bench (issue 13, points 1 to 3).
--
-- visits.problem     what a walk-in said it is about when joining the line ("what is it
--                    about"): customer free text, so sealed at rest like a visit's name (017);
--                    a booked visit's problem is its booking's.
-- visits.repair_id   the repair order a visit was handed over to (the serving card's hand-over).
-- visits.left_reason why a visit left: the customer left ('left'), or was skipped too often
--                    ('no_show', floor_settings.max_skips).
-- floor_settings.max_skips  after this many "not here" skips a waiting visit is a no-show.
-- repair_orders.bench_since / technician_id / taken_at: a handed-over repair without a technician
--                    waits on the store's bench queue until a technician takes it.
-- handover_keys      the Idempotency-Key of each hand-over (its SHA-256, per store), and the
--                    repair it made, so a retried hand-over answers the same repair.

alter table visits add column problem text,
    add column repair_id bigint references repair_orders(id),
    add column left_reason text check (left_reason in ('left', 'no_show'));

insert into pd_columns (tbl, col, typ, mode, bi_col, bi_kind)
values ('visits', 'problem', 'text', 'value', null, null);
create index pd_clear_visits_problem on visits (id) where problem not like '{{pd:%';

alter table floor_settings add column max_skips int not null default 3
    check (max_skips between 1 and 20);

alter table repair_orders add column bench_since timestamptz,
    add column technician_id bigint references staff(id),
    add column taken_at timestamptz,
    add check ((technician_id is null) = (taken_at is null));
create index repair_orders_bench_idx on repair_orders (store_id, bench_since)
    where bench_since is not null and technician_id is null;

create table handover_keys (
    store_id bigint not null references stores(id) on delete cascade,
    key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
    visit_id bigint not null references visits(id),
    repair_id bigint not null references repair_orders(id),
    created_at timestamptz not null default now(),
    primary key (store_id, key_hash)
);

