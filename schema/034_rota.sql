-- 034: the rota as a weekly pattern plus exceptions (issue #14). A pattern is a repeating shift
-- in the store's local wall-clock time (09:00-17:00 every Tuesday), so it stays 09:00 across a
-- DST change. Availability still reads only concrete rows of `shifts`: a pattern materialises
-- its occurrences over the bookable horizon on save and by a job (job_rota_extend), which
-- keeps the booking code unchanged and lets one occurrence be moved or deleted like any shift.
create table shift_patterns (
    id bigint generated always as identity primary key,
    store_id bigint not null references stores(id) on delete cascade,
    staff_id bigint not null references staff(id) on delete cascade,
    weekday int not null check (weekday between 1 and 7),
    starts time not null,
    ends time not null,
    from_day date not null,
    until_day date,
    check (starts < ends),
    check (until_day is null or until_day >= from_day)
);
create index shift_patterns_store_idx on shift_patterns (store_id);

-- An occurrence knows its pattern and the local day it stands for, so the job sees it is
-- there even after it was moved (exception) and does not add it twice.
alter table shifts
    add column pattern_id bigint references shift_patterns(id) on delete set null,
    add column pattern_day date,
    add column exception boolean not null default false;
create unique index shifts_pattern_day_idx on shifts (pattern_id, pattern_day);

-- Occurrences deleted on their own: the job must not bring them back.
create table shift_pattern_skips (
    pattern_id bigint not null references shift_patterns(id) on delete cascade,
    day date not null,
    primary key (pattern_id, day)
);
