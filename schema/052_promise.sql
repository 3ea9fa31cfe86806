-- 052: promises predicted from the bench (issue 17, point 3).
--
-- repair_orders.kind  what kind of work a repair is ("screen", "battery" ...), chosen at intake;
--                     its history (closed repairs of the same kind) says how long the rest of
--                     the work usually takes. Repairs opened without one are "general".
-- repair_parts.expected_at  when an ordered part should arrive: while the repair has not
--                     started (up to awaiting_parts), the work waits for it.
-- promise_slips       each time the slip job moved a repair's promise because the bench's
--                     prediction passed it: one row per (repair, broken promise), so one slip
--                     is told once however often the job runs, and the dashboard can count the
--                     promises moved. The moves are also in the device's record (repair_promise
--                     entries), which is append-only.
alter table repair_orders add column kind text not null default 'general'
    check (kind ~ '^[a-z][a-z0-9_]{1,31}$');
-- A kind's history: the store's own first, the chain's when the store has too little.
create index repair_orders_kind_idx on repair_orders (store_id, kind, opened_at);
create index repair_orders_kind_chain_idx on repair_orders (kind, opened_at);
-- The bench's queue per technician (promise_forecast reads it for every open repair).
create index repair_orders_technician_idx on repair_orders (technician_id, state)
    where technician_id is not null;

alter table repair_parts add column expected_at timestamptz;

create table promise_slips (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    store_id bigint not null references stores(id),
    from_promised_at timestamptz not null,
    to_promised_at timestamptz not null check (to_promised_at > from_promised_at),
    forecast jsonb not null,
    outbox_id bigint,
    at timestamptz not null default now(),
    unique (repair_id, from_promised_at)
);
create index promise_slips_store_idx on promise_slips (store_id, at);

-- The customer hears it early, with the new date: {{when}} the promise it replaces,
-- {{estimate}} the new one.
insert into message_templates (kind, locale, subject, body, sms) values
('promise_moved', 'en', 'A new date for your repair at {{store}}',
 E'Hello {{name}},\n\nWe would rather tell you now than on the day: repair {{code}} will not be ready by {{when}} as we promised.\nOur bench is busier than planned or a part arrives later. We now promise it for {{estimate}}.\n\nFollow it here: {{link}}',
 '{{store}}: repair {{code}} will not be ready by {{when}}; new date {{estimate}}. {{link}}'),
('promise_moved', 'fr', 'Une nouvelle date pour votre réparation chez {{store}}',
 E'Bonjour {{name}},\n\nNous préférons vous prévenir dès maintenant : la réparation {{code}} ne sera pas prête le {{when}} comme promis.\nNotre atelier est plus chargé que prévu ou une pièce arrive plus tard. Nous la promettons maintenant pour le {{estimate}}.\n\nLa suivre : {{link}}',
 '{{store}} : la réparation {{code}} ne sera pas prête le {{when}} ; nouvelle date {{estimate}}. {{link}}');
