-- 020: a customer's erasure (GDPR article 17) and their requests for it (issue 12, point 5).
--
-- An erasure keeps the rows (bookings, visits, repairs, threads and messages sent are business
-- records the stores still count) and removes what made them personal: names become the clear
-- text 'erased customer', emails, phones, contacts and recipients and their blind indexes become
-- NULL, message texts become 'erased'. erased_at marks such rows, and the checks that demanded an
-- email or a phone now accept an erased row without either. The functions are in
-- schema/api/customers.sql.

alter table appointments add column erased_at timestamptz;
alter table standby add column erased_at timestamptz;
alter table device_owners add column erased_at timestamptz;
alter table visits add column erased_at timestamptz;
alter table message_threads add column erased_at timestamptz;

-- "an email or a phone" holds for every row but an erased one (and, for standby places, one
-- whose contact retention purged: 014).
do $$
declare
    c record;
begin
    for c in
        select con.conname
        from pg_constraint con join pg_class rel on rel.oid = con.conrelid
        where con.contype = 'c' and rel.relname = 'appointments'
          and pg_get_constraintdef(con.oid)
              like '%customer_email IS NOT NULL) OR (customer_phone IS NOT NULL)%'
    loop
        execute format('alter table appointments drop constraint %I', c.conname);
    end loop;
end $$;
alter table appointments add constraint appointments_contact_check
    check (customer_email is not null or customer_phone is not null or erased_at is not null);
alter table standby drop constraint standby_contact_check,
    add constraint standby_contact_check
        check (email is not null or phone is not null or purged_at is not null
               or erased_at is not null);

-- A message that was sent keeps its metadata (kind, channel, when, status); its recipient goes.
alter table outbox alter column recipient drop not null;
alter table outbox add constraint outbox_recipient_unless_done
    check (recipient is not null or status in ('sent', 'failed', 'cancelled'));
alter table message_threads alter column recipient drop not null;
alter table promises alter column recipient drop not null;

-- A customer's request, made from their booking's manage link or their repair's status link,
-- that the store erase what it holds about them. The request names the object, not the person:
-- the store's managers see the contact through it (GET /api/stores/{store}/erasure-requests) and
-- erase with POST /api/customers/erase; the erasure marks it done.
create table erasure_requests (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    ref_type text not null check (ref_type in ('appointment', 'repair')),
    ref_id bigint not null,
    requested_at timestamptz not null default now(),
    erased_at timestamptz,
    erased_by bigint references staff(id)
);
-- One open request per object: asking twice is the same request.
create unique index erasure_requests_open_key on erasure_requests (ref_type, ref_id)
    where erased_at is null;
create index erasure_requests_store_idx on erasure_requests (store_id, requested_at desc);
