-- 028: a repair kept under observation overnight, and the call-back promised to its customer.
--
-- "We'll call you tomorrow at 10": a technician puts a repair under observation with the time
-- of the call-back the customer was promised. The observation is the window in which the
-- device's diagnostic sessions belong to the repair (schema/api/observation.sql reads them by
-- the time their record entry was written: no copy, nothing for device.sql to hook); it ends when
-- the technician ends it or the repair moves. The call-back outlives it: it stays pending on the
-- store's call-back list until someone marks it made, and is cancelled only when the repair
-- closes. Whether it is late is read from now() at read time, so no timer is needed.
--
-- The notes are staff text (what the technician watches for, how the call went), like a
-- repair's labour notes; the customer's name and contact stay sealed in device_owners.

create table repair_observations (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    store_id bigint not null references stores(id),
    started_at timestamptz not null default now(),
    started_by bigint references staff(id),
    note text check (length(note) <= 2000),
    ended_at timestamptz,
    ended_by bigint references staff(id),
    end_reason text check (end_reason in ('ended', 'moved')),
    callback_at timestamptz not null,
    callback_state text not null default 'pending'
        check (callback_state in ('pending', 'done', 'cancelled')),
    callback_done_at timestamptz,
    callback_done_by bigint references staff(id),
    callback_outcome text check (callback_outcome in ('reached', 'no_answer', 'left_message')),
    callback_note text check (length(callback_note) <= 2000),
    check ((ended_at is null) = (end_reason is null)),
    check ((callback_state = 'done') = (callback_done_at is not null and callback_outcome is not null))
);
-- One observation at a time per repair.
create unique index repair_observations_open_key on repair_observations (repair_id)
    where ended_at is null;
create index repair_observations_repair_idx on repair_observations (repair_id, id);
-- The store's call-back list: pending ones by time.
create index repair_observations_callbacks_idx on repair_observations (store_id, callback_at)
    where callback_state = 'pending';

-- The one message the customer gets: when we will call, in the store's time zone ({{when}}).
insert into message_templates (kind, locale, subject, body, sms) values
('repair_callback', 'en', 'We are keeping your device overnight at {{store}}',
 E'Hello {{name}},\n\nWe are keeping your device (repair {{code}}) under observation overnight to find out what is wrong.\nWe will call you on {{when}} with the results.\n\nFollow your repair: {{link}}',
 '{{store}}: we are keeping your device (repair {{code}}) overnight and will call you on {{when}}. {{link}}'),
('repair_callback', 'fr', 'Nous gardons votre appareil cette nuit chez {{store}}',
 E'Bonjour {{name}},\n\nNous gardons votre appareil (réparation {{code}}) en observation cette nuit pour trouver la panne.\nNous vous appellerons le {{when}} avec les résultats.\n\nSuivre votre réparation : {{link}}',
 '{{store}} : nous gardons votre appareil (réparation {{code}}) cette nuit et vous appellerons le {{when}}. {{link}}');
