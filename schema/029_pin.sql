-- 029: shared tablets. A staff member may set a PIN (its argon2id hash, made by carnetd like a
-- password's) to come back to their own session on a shared tablet after the idle timeout, or
-- after a colleague used the tablet, without a full sign-in (README, Operations / staff).
--
-- A browser that signs in is given a tablet cookie (random, HttpOnly); sessions opened on it
-- keep its hash, so the tablet can list who is signed in on it and hand any of them back their
-- session for their PIN. An idle session of someone with a PIN is locked (locked_at), not ended;
-- it still ends at expires_at, and after five wrong PINs (pin_failures).
alter table staff add column pin_hash text;

alter table sessions
    add column tablet_hash text check (tablet_hash ~ '^[0-9a-f]{64}$'),
    add column locked_at timestamptz,
    add column pin_failures int not null default 0 check (pin_failures >= 0);
create index sessions_tablet_idx on sessions (tablet_hash, staff_id) where tablet_hash is not null;

-- auth_login_finish takes the tablet the session opens on (schema/api/core.sql).
drop function if exists auth_login_finish(bigint, bigint, text, int, text);
