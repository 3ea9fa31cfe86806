-- 036: the wall board says who calls whom to which desk, and the survey's first answer is the
-- tap on the link (issue #14).
--
-- A staff member names the desk they serve from for one session (a tablet at desk 3 today, at
-- the door tomorrow), so the desk rests on the session, not on the staff row. A call copies it
-- (or, without one, the caller's first name) onto the visit: the board shows where to go, and a
-- later change of desk does not rewrite where someone was sent.
alter table sessions
    add column desk text not null default '' check (char_length(desk) <= 40);

alter table visits
    add column desk text check (char_length(desk) <= 40);

-- The survey comes in two parts, each answered once: the satisfaction score (answered_at, the
-- tap on one of the message's links) and then, optionally, the rest (followup_at).
alter table surveys
    add column followup_at timestamptz,
    add constraint surveys_followup_after check (followup_at is null or answered_at is not null);
update surveys set followup_at = answered_at
where answered_at is not null and (effort is not null or recommendation is not null);

-- The call functions take the caller's desk: their old signatures go, so that floor.sql's new
-- ones do not sit beside them as overloads.
drop function if exists floor_call_next(bigint, bigint, bigint, text);
drop function if exists floor_visit_call(bigint, bigint, text);
drop function if exists floor_call_do(visits, bigint, bigint, text);

-- The e-mail carries one link per score, so the tap is the answer. The SMS keeps one link: five
-- of them would take it past one 160-character message.
update message_templates set
    subject = 'How did we do at {{store}}?',
    body = E'Hello {{name}},\n\nThank you for coming to {{store}}. How happy are you with your visit? Tap one score:\n\n5 - Very happy: {{link}}~5\n4 - Happy: {{link}}~4\n3 - Neither: {{link}}~3\n2 - Unhappy: {{link}}~2\n1 - Very unhappy: {{link}}~1\n\nYour tap is your answer; one more optional question follows. The links work for 14 days.'
where kind = 'survey' and locale = 'en';
update message_templates set
    subject = 'Votre avis sur {{store}}',
    body = E'Bonjour {{name}},\n\nMerci de votre visite chez {{store}}. Êtes-vous satisfait de votre visite ? Touchez une note :\n\n5 - Très satisfait : {{link}}~5\n4 - Satisfait : {{link}}~4\n3 - Ni l''un ni l''autre : {{link}}~3\n2 - Insatisfait : {{link}}~2\n1 - Très insatisfait : {{link}}~1\n\nVotre touche est votre réponse ; une question facultative suit. Les liens fonctionnent pendant 14 jours.'
where kind = 'survey' and locale = 'fr';
