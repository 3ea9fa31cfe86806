-- Sign-in attempts are settled by their id: step two turns exactly its own attempt into a
-- success (no longer "the latest failure of this email from this address", which two parallel
-- sign-ins could swap), so auth_login_finish takes the attempt instead of email and address.
-- Its new definition, with the throttle that replaces the per-account lock-out, is in
-- schema/api/core.sql.
drop function if exists auth_login_finish(text, bigint, text, text, int, text);

-- The account slow-down counts an address's failures on one account: one index serves the
-- per-(account, address) limit and that count.
create index login_attempts_email_address_idx on login_attempts (lower(email), address, at)
    where not ok;
