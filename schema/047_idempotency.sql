-- 047: Idempotency-Key on the writes a tablet retries after a failover (issue 15): staff check-in
-- of a booking, the walk-in join, a diagnostic posted to a device. A retry whose first try did
-- commit must not make a second visit or a second diagnostic session.
--
-- idempotency_replies   the first answer per (scope, key): scope names the call and who or where
--                       it acts (the actor and store of a check-in, the store of a join, the
--                       actor of a diagnostic), so another caller's key never replays your
--                       answer. The key is kept only as a keyed hash (carnetd's data key: a
--                       guessable key cannot be tested against it), and the request as a keyed
--                       fingerprint, so a different body under the same key is refused. The answer
--                       is the SQL function's JSON, personal data and link tokens inside it still
--                       sealed. Written in the same transaction as the write it answers; purged
--                       after a day by job_retention.
create table idempotency_replies (
    scope text not null,
    key_hash text not null check (key_hash ~ '^[0-9a-f]{64}$'),
    fingerprint text not null check (fingerprint ~ '^[0-9a-f]{64}$'),
    answer jsonb not null,
    created_at timestamptz not null default now(),
    primary key (scope, key_hash)
);
create index idempotency_replies_created on idempotency_replies (created_at);
