-- 023: sign-in attempts no longer hold the email that was typed.
--
-- The throttle needs only to tell attempts on one account from another, so an attempt keeps a
-- tag of the account (account_mac: SHA-256 of a key carnetd derives from the data key, then
-- the lower-cased email) instead of the email; whoever reads the database cannot read, or
-- confirm by guessing, whom anyone tried to sign in as (customers type their own email there
-- too). The tags of the old rows cannot be computed here (the key is carnetd's): those rows,
-- at most a throttle window of history, go.

delete from login_attempts;
drop index if exists login_attempts_email_idx;
drop index if exists login_attempts_email_address_idx;
alter table login_attempts rename column email to account_mac;
alter table login_attempts add check (account_mac ~ '^[0-9a-f]{64}$');
create index login_attempts_account_idx on login_attempts (account_mac, address, at);

drop function if exists auth_throttle(text, text, text);
drop function if exists auth_login_begin(text, text);
drop function if exists auth_login_finish(bigint, bigint, text, int, text);
drop function if exists staff_password_begin(bigint, text);
drop function if exists staff_password_finish(bigint, boolean, text, text, text, text, text);
drop function if exists staff_reset_password(bigint, bigint, bigint, text, text);
