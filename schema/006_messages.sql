-- Talking to customers: the transactional outbox, templates, reminders, early warnings,
-- customer <-> store threads, and surveys.
--
-- The outbox is the only way a customer hears from us. A domain that causes a message calls
-- outbox_enqueue(...) inside its own transaction, so the message exists exactly when the event
-- does: a rolled-back booking leaves nothing to send. carnetd's delivery loop (server/outbox.c)
-- claims due rows with FOR UPDATE SKIP LOCKED under a lease, sends them off the event loop, and
-- records the outcome with outbox_mark(); the claim id it got must still match, so a worker
-- whose lease ran out cannot overwrite the work of the one that took over.
--
-- Scheduled messages (reminders) are ordinary rows whose next_attempt_at lies in the future:
-- the schedule lives in the database, not in a process timer.
--
-- Links: tokens minted here (thread and survey links, created by jobs and events that have no
-- carnetd at hand) are random text stored only as their SHA-256 hex; carnetd hashes the token
-- of an incoming link the same way (BLAKE2b is not available inside PostgreSQL). Bodies keep a
-- {{public_url}} placeholder that the delivery worker fills from its configuration at claim
-- time, so a stored message does not depend on which carnetd wrote it.
-- A customer can also open their thread with a link carnetd minted (a booking's manage link, a
-- repair's status link: BLAKE2b in their own tables): carnetd sends both hashes of the token.

-- How long a booked, checked-in customer may wait past their time before we warn them.
alter table stores add column late_warning_minutes int not null default 15
    check (late_warning_minutes between 1 and 240);

create table message_templates (
    kind text not null check (kind ~ '^[a-z_]{2,40}$'),
    locale text not null check (locale in ('en', 'fr')),
    subject text not null,
    body text not null,
    sms text not null,
    primary key (kind, locale)
);

-- Kinds that are sent at most once per object (a second enqueue for the same ref is a no-op).
create table message_once_kinds (
    kind text primary key
);

create table outbox (
    id bigint generated always as identity primary key,
    kind text not null,
    channel text not null check (channel in ('email', 'sms')),
    recipient text not null check (length(recipient) between 3 and 254),
    locale text not null check (locale in ('en', 'fr')),
    subject text not null,
    body text not null,
    sms text not null,
    status text not null default 'pending'
        check (status in ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    attempts int not null default 0,
    next_attempt_at timestamptz not null default now(),
    claimed_until timestamptz,
    claim uuid,
    transport text check (transport in ('smtp', 'webhook', 'file')),
    last_error text,
    created_at timestamptz not null default now(),
    sent_at timestamptz,
    store_id bigint references stores(id),
    -- The object the message is about; no foreign key, the object lives in another domain.
    ref_type text check (ref_type in ('appointment', 'visit', 'repair', 'standby', 'thread')),
    ref_id bigint,
    once_key text unique,
    -- The caller's placeholders, so a later message about the same object can reuse them
    -- (the booking's manage link is known only when the booking is made).
    data jsonb not null default '{}',
    check ((ref_type is null) = (ref_id is null))
);
create index outbox_due_idx on outbox (next_attempt_at) where status in ('pending', 'sending');
create index outbox_store_idx on outbox (store_id, status, id);
create index outbox_ref_idx on outbox (ref_type, ref_id);

-- ---- threads: written messages between a customer and the store about one object ----

create table message_threads (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    ref_type text not null check (ref_type in ('appointment', 'repair')),
    ref_id bigint not null,
    channel text not null check (channel in ('email', 'sms')),
    recipient text not null,
    locale text not null default 'en' check (locale in ('en', 'fr')),
    customer_name text,
    -- The device's health record, when the object concerns one (messages are appended there).
    device_id bigint,
    created_at timestamptz not null default now(),
    unique (ref_type, ref_id)
);

create table messages (
    id bigint generated always as identity primary key,
    thread_id bigint not null references message_threads(id),
    author text not null check (author in ('customer', 'staff')),
    staff_id bigint references staff(id),
    body text not null check (length(btrim(body)) between 1 and 4000),
    created_at timestamptz not null default now(),
    -- For customer messages: when a staff member first opened them.
    read_at timestamptz,
    check ((author = 'staff') = (staff_id is not null))
);
create index messages_thread_idx on messages (thread_id, id);
create index messages_unread_idx on messages (thread_id) where author = 'customer' and read_at is null;

-- Private links minted by the database (see the header): a thread link or a survey link.
create table message_links (
    token_hash text primary key check (token_hash ~ '^[0-9a-f]{64}$'),
    purpose text not null check (purpose in ('thread')),
    thread_id bigint not null references message_threads(id),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
);

-- ---- early warnings: promises we made and may not keep ----

-- How long a repair usually still needs from each state; a repair whose promised date comes
-- before now + this is at risk.
create table promise_state_remaining (
    state text primary key,
    remaining interval not null
);
insert into promise_state_remaining values
    ('intake', '2 days'), ('diagnosing', '2 days'), ('awaiting_approval', '2 days'),
    ('awaiting_parts', '3 days'), ('repairing', '1 day'), ('testing', '4 hours'),
    ('ready', '0'), ('collected', '0'), ('returned_unrepaired', '0'), ('cancelled', '0');

create table promises (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    ref_type text not null check (ref_type in ('appointment', 'repair')),
    ref_id bigint not null,
    promised_at timestamptz not null,
    state text,
    expected_at timestamptz,
    resolved_at timestamptz,
    warned_at timestamptz,
    channel text not null check (channel in ('email', 'sms')),
    recipient text not null,
    locale text not null default 'en',
    data jsonb not null default '{}',
    unique (ref_type, ref_id)
);
create index promises_open_idx on promises (promised_at) where resolved_at is null and warned_at is null;

-- ---- surveys ----

create table surveys (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id),
    ref_type text not null check (ref_type in ('visit', 'repair')),
    ref_id bigint not null,
    token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
    created_at timestamptz not null default now(),
    expires_at timestamptz not null,
    answered_at timestamptz,
    satisfaction int check (satisfaction between 1 and 5),
    effort int check (effort between 1 and 7),
    recommendation int check (recommendation between 0 and 10),
    comment text check (length(comment) <= 2000),
    unique (ref_type, ref_id),
    check ((answered_at is null) = (satisfaction is null))
);
create index surveys_store_idx on surveys (store_id, answered_at);

-- ---- templates ----

insert into message_once_kinds values
    ('reminder_day'), ('reminder_hour'), ('running_late'), ('promise_at_risk'), ('survey');

insert into message_templates (kind, locale, subject, body, sms) values
('booking_confirmed', 'en', 'Your booking at {{store}} is confirmed',
 E'Hello {{name}},\n\nYour appointment at {{store}} is booked for {{when}}.\nConfirmation code: {{code}}\n\nChange or cancel it here: {{link}}\n\nSee you soon,\n{{store}}',
 '{{store}}: booked for {{when}}, code {{code}}. Manage: {{link}}'),
('booking_confirmed', 'fr', 'Votre rendez-vous chez {{store}} est confirmé',
 E'Bonjour {{name}},\n\nVotre rendez-vous chez {{store}} est réservé pour le {{when}}.\nCode de confirmation : {{code}}\n\nModifier ou annuler : {{link}}\n\nÀ bientôt,\n{{store}}',
 '{{store}} : rendez-vous le {{when}}, code {{code}}. Gérer : {{link}}'),
('booking_changed', 'en', 'Your booking at {{store}} has moved',
 E'Hello {{name}},\n\nYour appointment at {{store}} is now on {{when}}.\nConfirmation code: {{code}}\n\nManage it here: {{link}}',
 '{{store}}: your booking is now {{when}}. Manage: {{link}}'),
('booking_changed', 'fr', 'Votre rendez-vous chez {{store}} a changé',
 E'Bonjour {{name}},\n\nVotre rendez-vous chez {{store}} est maintenant le {{when}}.\nCode de confirmation : {{code}}\n\nGérer : {{link}}',
 '{{store}} : votre rendez-vous est maintenant le {{when}}. Gérer : {{link}}'),
('booking_cancelled', 'en', 'Your booking at {{store}} is cancelled',
 E'Hello {{name}},\n\nYour appointment at {{store}} on {{when}} is cancelled.\n\nBook again any time: {{link}}',
 '{{store}}: your booking on {{when}} is cancelled.'),
('booking_cancelled', 'fr', 'Votre rendez-vous chez {{store}} est annulé',
 E'Bonjour {{name}},\n\nVotre rendez-vous chez {{store}} du {{when}} est annulé.\n\nReprendre rendez-vous : {{link}}',
 '{{store}} : votre rendez-vous du {{when}} est annulé.'),
('reminder_day', 'en', 'Tomorrow at {{store}}: {{when}}',
 E'Hello {{name}},\n\nA reminder: your appointment at {{store}} is on {{when}}.\n\nCan''t make it? Change or cancel here: {{link}}',
 '{{store}} reminder: {{when}}. Manage: {{link}}'),
('reminder_day', 'fr', 'Demain chez {{store}} : {{when}}',
 E'Bonjour {{name}},\n\nPetit rappel : votre rendez-vous chez {{store}} est le {{when}}.\n\nUn empêchement ? Modifier ou annuler : {{link}}',
 'Rappel {{store}} : {{when}}. Gérer : {{link}}'),
('reminder_hour', 'en', 'In an hour at {{store}}',
 E'Hello {{name}},\n\nSee you in an hour at {{store}} ({{when}}).\n\nYour booking: {{link}}',
 '{{store}}: see you at {{when}}. {{link}}'),
('reminder_hour', 'fr', 'Dans une heure chez {{store}}',
 E'Bonjour {{name}},\n\nÀ tout à l''heure chez {{store}} ({{when}}).\n\nVotre rendez-vous : {{link}}',
 '{{store}} : à tout à l''heure ({{when}}). {{link}}'),
('running_late', 'en', '{{store}} is running late',
 E'Hello {{name}},\n\nWe are sorry: we are running behind and could not see you at {{when}} as planned.\nWe now expect to call you around {{estimate}}.\n\nWrite to us: {{link}}',
 '{{store}} is running late: we expect to call you around {{estimate}}. {{link}}'),
('running_late', 'fr', '{{store}} a du retard',
 E'Bonjour {{name}},\n\nNous sommes désolés : nous avons du retard et n''avons pas pu vous recevoir à l''heure prévue ({{when}}).\nNous pensons vous appeler vers {{estimate}}.\n\nNous écrire : {{link}}',
 '{{store}} a du retard : nous pensons vous appeler vers {{estimate}}. {{link}}'),
('standby_offer', 'en', 'A slot opened at {{store}}: {{when}}',
 E'Hello {{name}},\n\nA slot just opened at {{store}} on {{when}}. It is held for you for a few minutes.\n\nTake it here: {{link}}',
 '{{store}}: a slot opened on {{when}}, held for you briefly. Take it: {{link}}'),
('standby_offer', 'fr', 'Un créneau s''est libéré chez {{store}} : {{when}}',
 E'Bonjour {{name}},\n\nUn créneau vient de se libérer chez {{store}} le {{when}}. Il vous est réservé quelques minutes.\n\nLe prendre : {{link}}',
 '{{store}} : un créneau le {{when}} vous est réservé quelques minutes. {{link}}'),
('youre_next', 'en', 'You''re next at {{store}}',
 E'Hello {{name}},\n\nYou are next in line at {{store}}. Please come to the front desk.\n\n{{link}}',
 '{{store}}: you''re next! Please come to the front desk.'),
('youre_next', 'fr', 'C''est bientôt à vous chez {{store}}',
 E'Bonjour {{name}},\n\nVous êtes le prochain chez {{store}}. Merci de vous présenter à l''accueil.\n\n{{link}}',
 '{{store}} : c''est à vous ! Merci de vous présenter à l''accueil.'),
('repair_status', 'en', 'Your repair at {{store}}: {{state}}',
 E'Hello {{name}},\n\nYour repair {{code}} is now: {{state}}.\n\nFollow it here: {{link}}',
 '{{store}}: repair {{code}} is now {{state}}. {{link}}'),
('repair_status', 'fr', 'Votre réparation chez {{store}} : {{state}}',
 E'Bonjour {{name}},\n\nVotre réparation {{code}} est maintenant : {{state}}.\n\nLa suivre : {{link}}',
 '{{store}} : réparation {{code}} maintenant {{state}}. {{link}}'),
('estimate_ready', 'en', 'Your estimate from {{store}} is ready',
 E'Hello {{name}},\n\nThe estimate for repair {{code}} is {{amount}}. We start as soon as you approve it.\n\nApprove or decline here: {{link}}',
 '{{store}}: estimate for repair {{code}}: {{amount}}. Approve: {{link}}'),
('estimate_ready', 'fr', 'Votre devis de {{store}} est prêt',
 E'Bonjour {{name}},\n\nLe devis de la réparation {{code}} est de {{amount}}. Nous commençons dès votre accord.\n\nAccepter ou refuser : {{link}}',
 '{{store}} : devis réparation {{code}} : {{amount}}. Accepter : {{link}}'),
('ready_for_pickup', 'en', 'Your device is ready at {{store}}',
 E'Hello {{name}},\n\nGood news: repair {{code}} is done and your device is ready to collect at {{store}}.\n\nDetails: {{link}}',
 '{{store}}: your device (repair {{code}}) is ready to collect. {{link}}'),
('ready_for_pickup', 'fr', 'Votre appareil est prêt chez {{store}}',
 E'Bonjour {{name}},\n\nBonne nouvelle : la réparation {{code}} est terminée, votre appareil vous attend chez {{store}}.\n\nDétails : {{link}}',
 '{{store}} : votre appareil (réparation {{code}}) est prêt. {{link}}'),
('promise_at_risk', 'en', 'Your repair at {{store}} will take longer',
 E'Hello {{name}},\n\nWe are sorry: repair {{code}} will not be ready by {{when}} as promised.\nOur new estimate is {{estimate}}.\n\nQuestions? Write to us: {{link}}',
 '{{store}}: repair {{code}} will be late; new estimate {{estimate}}. {{link}}'),
('promise_at_risk', 'fr', 'Votre réparation chez {{store}} prendra plus de temps',
 E'Bonjour {{name}},\n\nNous sommes désolés : la réparation {{code}} ne sera pas prête le {{when}} comme promis.\nNouvelle estimation : {{estimate}}.\n\nUne question ? Écrivez-nous : {{link}}',
 '{{store}} : la réparation {{code}} aura du retard ; nouvelle estimation {{estimate}}. {{link}}'),
('store_message', 'en', 'A message from {{store}}',
 E'Hello {{name}},\n\n{{store}} wrote to you:\n\n{{message}}\n\nAnswer here: {{link}}',
 '{{store}} wrote to you. Read and answer: {{link}}'),
('store_message', 'fr', 'Un message de {{store}}',
 E'Bonjour {{name}},\n\n{{store}} vous a écrit :\n\n{{message}}\n\nRépondre : {{link}}',
 '{{store}} vous a écrit. Lire et répondre : {{link}}'),
('survey', 'en', 'How did we do at {{store}}?',
 E'Hello {{name}},\n\nThank you for coming to {{store}}. Three quick questions, one tap each:\n{{link}}\n\nThe link works once and for 14 days.',
 '{{store}}: how did we do? One tap: {{link}}'),
('survey', 'fr', 'Votre avis sur {{store}}',
 E'Bonjour {{name}},\n\nMerci de votre visite chez {{store}}. Trois questions rapides, une touche chacune :\n{{link}}\n\nLe lien fonctionne une fois, pendant 14 jours.',
 '{{store}} : votre avis en une touche : {{link}}');
