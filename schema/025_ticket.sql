-- 025: the repair ticket talks to customers in their language, and only when the store wants.
--
-- A store has a language (its customers' default); a repair may carry its customer's own (the
-- booking's or the one chosen at intake). Which repair moves send a message is a per-store
-- setting, repair_settings.notify (repair states, plus 'delayed': the promise moved later); a
-- store without a row uses the default. New templates: the opening message (it carries the
-- status link, so it is always sent), the delay with the old and the new promise, and a status
-- message that names the state as the screens do.

alter table stores add column if not exists lang text not null default 'en'
    check (lang in ('en', 'fr'));
alter table repair_orders add column lang text check (lang in ('en', 'fr'));

create table repair_settings (
    store_id bigint primary key references stores(id) on delete cascade,
    notify text[] not null default array['awaiting_approval', 'ready', 'delayed']
        check (notify <@ array['diagnosing', 'awaiting_approval', 'awaiting_parts', 'repairing',
                               'testing', 'ready', 'returned_unrepaired', 'cancelled', 'delayed'])
);

-- How a state reads to a customer: the words of the screens (web/js/i18n.js, rs.*).
create table repair_state_labels (
    state text not null references repair_states(state),
    locale text not null check (locale in ('en', 'fr')),
    label text not null,
    primary key (state, locale)
);
insert into repair_state_labels (state, locale, label) values
    ('intake', 'en', 'Received'), ('intake', 'fr', 'Reçu'),
    ('diagnosing', 'en', 'Diagnosing'), ('diagnosing', 'fr', 'Diagnostic en cours'),
    ('awaiting_approval', 'en', 'Waiting for approval'), ('awaiting_approval', 'fr', 'En attente d’accord'),
    ('awaiting_parts', 'en', 'Waiting for parts'), ('awaiting_parts', 'fr', 'En attente de pièces'),
    ('repairing', 'en', 'Repairing'), ('repairing', 'fr', 'En réparation'),
    ('testing', 'en', 'Testing'), ('testing', 'fr', 'En test'),
    ('ready', 'en', 'Ready to collect'), ('ready', 'fr', 'Prêt à récupérer'),
    ('collected', 'en', 'Collected'), ('collected', 'fr', 'Récupéré'),
    ('returned_unrepaired', 'en', 'Returned unrepaired'),
    ('returned_unrepaired', 'fr', 'Rendu sans réparation'),
    ('cancelled', 'en', 'Cancelled'), ('cancelled', 'fr', 'Annulé');

insert into message_templates (kind, locale, subject, body, sms) values
('repair_opened', 'en', 'We have your device at {{store}}',
 E'Hello {{name}},\n\nWe have received your device for repair {{code}}. We will tell you when we need your approval and when it is ready.\n\nFollow it here: {{link}}',
 '{{store}}: we have your device (repair {{code}}). Follow it: {{link}}'),
('repair_opened', 'fr', 'Nous avons votre appareil chez {{store}}',
 E'Bonjour {{name}},\n\nNous avons bien reçu votre appareil pour la réparation {{code}}. Nous vous préviendrons quand votre accord sera nécessaire et quand il sera prêt.\n\nLa suivre : {{link}}',
 '{{store}} : nous avons votre appareil (réparation {{code}}). La suivre : {{link}}'),
('repair_delayed', 'en', 'Your repair at {{store}} will take longer',
 E'Hello {{name}},\n\nWe are sorry: repair {{code}} will not be ready by {{when}} as we promised.\nWe now promise it for {{estimate}}.\n\nFollow it here: {{link}}',
 '{{store}}: repair {{code}} is delayed from {{when}} to {{estimate}}. {{link}}'),
('repair_delayed', 'fr', 'Votre réparation chez {{store}} prendra plus de temps',
 E'Bonjour {{name}},\n\nNous sommes désolés : la réparation {{code}} ne sera pas prête le {{when}} comme promis.\nNous la promettons maintenant pour le {{estimate}}.\n\nLa suivre : {{link}}',
 '{{store}} : réparation {{code}} retardée du {{when}} au {{estimate}}. {{link}}');

update message_templates set
    subject = 'Your repair at {{store}}: {{state}}',
    body = E'Hello {{name}},\n\nNews of your repair {{code}}: {{state}}.\n\nFollow it here: {{link}}',
    sms = '{{store}}: repair {{code}}: {{state}}. {{link}}'
where kind = 'repair_status' and locale = 'en';
update message_templates set
    subject = 'Votre réparation chez {{store}} : {{state}}',
    body = E'Bonjour {{name}},\n\nDes nouvelles de votre réparation {{code}} : {{state}}.\n\nLa suivre : {{link}}',
    sms = '{{store}} : réparation {{code}} : {{state}}. {{link}}'
where kind = 'repair_status' and locale = 'fr';

-- repair_state_label now takes the customer's language.
drop function if exists repair_state_label(text);
