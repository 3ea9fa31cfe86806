-- 018: the booking and floor domains write personal data sealed (017).
--
-- carnetd seals a booking's, a walk-in's and a standby place's name, email, phone and contact
-- before SQL sees them, so SQL can no longer derive anything from them. What it used to derive
-- is computed by carnetd at write time and stored beside the sealed value:
--   *.initial / appointments.customer_initial  what a public board shows of a person ("Z.");
--   visits.contact_channel, contact_recipient   how a walk-in's free-text contact is reached
--                                               (email, sms or nobody), and the address to use
--                                               (sealed: it is the contact, normalised).
-- This runs before carnetd's sealing job has touched an upgraded database (017 only added the
-- columns), so the values of existing rows are computed here from the clear ones; a value
-- already sealed is left without (the board then shows no initial for that row).

alter table appointments add column customer_initial text;
alter table standby add column initial text;
alter table visits add column initial text,
    add column contact_channel text check (contact_channel in ('email', 'sms')),
    add column contact_recipient text,
    add check (contact_recipient is null or contact_channel is not null);

insert into pd_columns (tbl, col, typ, mode, bi_col, bi_kind)
values ('visits', 'contact_recipient', 'text', 'value', null, null);
-- The sealing job's look for clear values, as 017 made for the other columns.
create index pd_clear_visits_contact_recipient on visits (id)
    where contact_recipient not like '{{pd:%';

update appointments set customer_initial = upper(left(btrim(customer_name), 1)) || '.'
where customer_name not like '{{pd:%' and btrim(customer_name) <> '';
update standby set initial = upper(left(btrim(name), 1)) || '.'
where name not like '{{pd:%' and btrim(name) <> '';
update visits set initial = upper(left(btrim(name), 1)) || '.'
where name not like '{{pd:%' and btrim(name) <> '';

-- The rule floor_contact applied when a message was due (now carnetd's, floor.c).
update visits v set contact_channel = x.channel, contact_recipient = x.recipient
from (select id,
             case when em then 'email' when ph ~ '^\+?[0-9]{6,15}$' then 'sms' end as channel,
             case when em then contact when ph ~ '^\+?[0-9]{6,15}$' then ph end as recipient
      from (select id, contact,
                   contact ~ '^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$' and length(contact) <= 254 as em,
                   regexp_replace(contact, '[\s.()-]', '', 'g') as ph
            from visits where contact is not null and contact not like '{{pd:%') c) x
where v.id = x.id and x.channel is not null;

-- booking_create takes the request's fingerprint from carnetd (a sealed body differs at every
-- retry, so its md5 no longer tells a retry from another request).
drop function if exists booking_create(bigint, jsonb, text, text, text, text, text);
-- floor_contact decided from the clear contact; carnetd decides now.
drop function if exists floor_contact(text);
drop function if exists floor_initial(text);
-- floor_line returns each visit's initial as well.
drop function if exists floor_line(bigint);
