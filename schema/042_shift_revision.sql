-- 042: a shift's revision and time of last change (issue #14, point 8 review). A staff feed
-- showed every shift with SEQUENCE 0 and the feed's creation as DTSTAMP, so a calendar client
-- that held a shift kept it where it was after a move. Like appointments.revision (038), the
-- trigger (schema/api/ics.sql) bumps both when the shift's time, person or store changes.
alter table shifts
    add column revision int not null default 0,
    add column updated_at timestamptz not null default now();
