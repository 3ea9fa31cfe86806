-- 027: estimates with lines (issue 13, point 5).
--
-- An estimate is a version of what the store proposes for a repair: a diagnosis, terms, and
-- lines (a part or labour, a quantity, a unit price without VAT in minor units, a VAT rate in
-- basis points). Its totals are computed in SQL when it is written (schema/api/estimate.sql,
-- repair_estimate_totals) and kept with it, so what the customer approves can never drift from
-- what they were shown. A new version supersedes the pending one, which stays as history; an
-- approval link is bound to one version (repair_links.estimate_id), so a link cannot approve a
-- version its holder never saw.
--
-- The customer's decline reason and call-back note are free text they write: personal data,
-- sealed by carnetd before SQL sees them, registered in pd_columns (017).
--
-- repair_orders keeps its estimate_* columns as the summary of the current version (gross
-- total, currency, state), which the transition rules and the lists already read.

-- The currency a store quotes in (ISO 4217). Amounts are integers in its minor unit.
alter table stores add column currency text not null default 'EUR'
    check (currency ~ '^[A-Z]{3}$');

create table repair_estimates (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    version int not null check (version >= 1),
    state text not null default 'pending'
        check (state in ('pending', 'approved', 'declined', 'superseded')),
    currency text not null check (currency ~ '^[A-Z]{3}$'),
    diagnosis text not null check (length(diagnosis) between 1 and 4000),
    terms text check (length(terms) <= 4000),
    -- Computed by repair_estimate_totals: the sums of the lines' nets, of the VAT per rate
    -- (vat: [{rate, base, vat}]), and their sum.
    net_total bigint not null check (net_total >= 0),
    vat_total bigint not null check (vat_total >= 0),
    gross_total bigint not null check (gross_total between 0 and 100000000),
    vat jsonb not null check (jsonb_typeof(vat) = 'array'),
    created_by bigint references staff(id),
    created_at timestamptz not null default now(),
    decided_at timestamptz,
    decline_reason text,
    -- "Call me": when the customer asked, the time they would like (optional), their note
    -- (optional, sealed). The estimate stays pending: a call-back is not an answer.
    callback_requested_at timestamptz,
    callback_at timestamptz,
    callback_note text,
    unique (repair_id, version),
    check ((state in ('approved', 'declined')) = (decided_at is not null)),
    check (decline_reason is null or state = 'declined')
);
create unique index repair_estimates_one_pending on repair_estimates (repair_id)
    where state = 'pending';
-- The call-back list reads the open requests of a store's repairs.
create index repair_estimates_callback_idx on repair_estimates (callback_requested_at)
    where callback_requested_at is not null and state = 'pending';

create table repair_estimate_lines (
    estimate_id bigint not null references repair_estimates(id),
    position int not null check (position between 0 and 29),
    kind text not null check (kind in ('part', 'labour')),
    description text not null check (length(description) between 1 and 200),
    quantity numeric(5, 2) not null check (quantity > 0 and quantity <= 999),
    unit_price bigint not null check (unit_price between 0 and 10000000),
    vat_rate int not null check (vat_rate between 0 and 3000),
    net bigint not null check (net >= 0),
    primary key (estimate_id, position)
);

alter table repair_links add column estimate_id bigint references repair_estimates(id);

insert into pd_columns (tbl, col, typ, mode) values
    ('repair_estimates', 'decline_reason', 'text', 'value'),
    ('repair_estimates', 'callback_note', 'text', 'value');
create index pd_clear_repair_estimates_decline_reason on repair_estimates (id)
    where decline_reason not like '{{pd:%';
create index pd_clear_repair_estimates_callback_note on repair_estimates (id)
    where callback_note not like '{{pd:%';

-- Estimates written before this migration were one amount: each becomes version 1 with one
-- labour line at that amount and no VAT, and its links are bound to it.
do $$
declare
    r record;
    e bigint;
begin
    for r in select * from repair_orders where estimate_state <> 'none' order by id loop
        insert into repair_estimates (repair_id, version, state, currency, diagnosis, net_total,
                                      vat_total, gross_total, vat, created_at, decided_at)
        values (r.id, 1, r.estimate_state, coalesce(r.estimate_currency, 'EUR'),
                'Estimate written before itemised estimates', r.estimate_cents, 0,
                r.estimate_cents, jsonb_build_array(jsonb_build_object(
                    'rate', 0, 'base', r.estimate_cents, 'vat', 0)),
                r.updated_at,
                case when r.estimate_state in ('approved', 'declined')
                     then coalesce(r.estimate_decided_at, r.updated_at) end)
        returning id into e;
        insert into repair_estimate_lines (estimate_id, position, kind, description, quantity,
                                           unit_price, vat_rate, net)
        values (e, 0, 'labour', 'Estimate', 1, r.estimate_cents, 0, r.estimate_cents);
        update repair_links set estimate_id = e where repair_id = r.id and purpose = 'estimate';
    end loop;
end $$;

-- The customer's answer now carries a body (the version shown, a decline's reason).
drop function if exists repair_estimate_decide(text, boolean);
