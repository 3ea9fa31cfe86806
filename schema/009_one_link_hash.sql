-- Every kind of customer link is now stored as the SHA-256 of its token (carnetd's link.c, and
-- message_token_hash for the links the database mints), so the thread functions take one hash.
-- Their new definitions are in schema/api/messages.sql; the two-hash forms go.
--
-- Links minted by carnetd before this change were stored as BLAKE2b hashes, which cannot be
-- turned into SHA-256 without the token: those manage, line, repair-status and estimate links
-- stop opening. Customers get a new link with their next message (reminder, status change).
drop function if exists message_customer_get(text, text);
drop function if exists message_customer_post(text, jsonb, text);
drop function if exists message_thread_by_link(text, text);
