-- 043: closing a store tells the customers on its standby list (issue 14). The place ends when
-- the store closes (store_close_standby); this is the message that says why. {{day}} is the day
-- they were waiting for (YYYY-MM-DD, the same in both languages).
insert into message_templates (kind, locale, subject, body, sms) values
('standby_closed', 'en', '{{store}} has closed',
 E'Hello {{name}},\n\nYou were on the standby list of {{store}} for {{day}}. We are sorry: the store has closed, so no slot will open for you there and you are no longer on the list.',
 '{{store}} has closed: you are no longer on its standby list for {{day}}.'),
('standby_closed', 'fr', '{{store}} a fermé',
 E'Bonjour {{name}},\n\nVous étiez sur la liste d''attente de {{store}} pour le {{day}}. Nous sommes désolés : le magasin a fermé, aucun créneau ne se libérera pour vous et vous n''êtes plus sur la liste.',
 '{{store}} a fermé : vous n''êtes plus sur sa liste d''attente du {{day}}.');
