-- Retention (schema/api/retention.sql): what is kept about people only as long as it is needed.
-- Rows whose personal part is purged stay, for the reports and the manager's lists, marked
-- with purged_at so the job passes over them; a standby place whose contact is purged has
-- neither email nor phone any more. Sessions and login attempts are deleted outright; the
-- retention job replaces job_expire_sessions, which deleted them on fixed terms.
alter table outbox add column purged_at timestamptz;
alter table visits add column purged_at timestamptz;
alter table standby add column purged_at timestamptz;

alter table standby drop constraint standby_check,
    add constraint standby_contact_check
        check (email is not null or phone is not null or purged_at is not null);

-- What the job looks for, each by age, among the rows not purged yet.
create index outbox_retention_idx on outbox (created_at)
    where purged_at is null and status in ('sent', 'failed', 'cancelled');
create index visits_retention_idx on visits (day) where purged_at is null;
create index standby_retention_idx on standby (day)
    where purged_at is null and status in ('booked', 'expired', 'left');
create index login_attempts_at_idx on login_attempts (at);

drop function if exists job_expire_sessions();
