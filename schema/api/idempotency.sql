-- Idempotency-Key for the writes that take one (schema/047_idempotency.sql). A write function
-- calls idem_claim first and idem_store after its own work, in its one transaction:
--
--   prior := idem_claim(scope, key_hash, fingerprint);
--   if prior is not null then return prior; end if;     -- a retry: the first answer
--   ... the write ...
--   perform idem_store(scope, key_hash, answer);
--
-- A retry that comes while the first try is still running waits on the key's row (the insert
-- below) until that try commits, then replays it; if the first try failed (rolled back), the
-- retry runs as a first try. Only successes are stored: a refusal is answered again by running
-- the call again, which changes nothing.

-- The answer stored under (p_scope, p_key_hash), or null when the key is new (its row is then
-- held by this transaction) or absent (p_key_hash null: no Idempotency-Key). 422
-- idempotency_mismatch when the key was used for a different request.
create or replace function idem_claim(p_scope text, p_key_hash text, p_fingerprint text)
returns jsonb language plpgsql as $$
declare
    k idempotency_replies;
begin
    if p_key_hash is null then
        return null;
    end if;
    if p_key_hash !~ '^[0-9a-f]{64}$' or coalesce(p_fingerprint, '') !~ '^[0-9a-f]{64}$' then
        perform carnet_fail(400, 'invalid', 'Idempotency-Key', 'a malformed key or request hash');
    end if;
    insert into idempotency_replies (scope, key_hash, fingerprint, answer)
    values (p_scope, p_key_hash, p_fingerprint, 'null')
    on conflict do nothing;
    if found then
        return null;
    end if;
    select * into k from idempotency_replies where scope = p_scope and key_hash = p_key_hash;
    if k.fingerprint <> p_fingerprint then
        perform carnet_fail(422, 'idempotency_mismatch', 'Idempotency-Key',
                            'this Idempotency-Key was used for a different request');
    end if;
    return k.answer;
end $$;

-- Stores the first answer under the key idem_claim held (nothing without a key).
create or replace function idem_store(p_scope text, p_key_hash text, p_answer jsonb)
returns void language plpgsql as $$
begin
    if p_key_hash is not null then
        update idempotency_replies set answer = p_answer
        where scope = p_scope and key_hash = p_key_hash;
    end if;
end $$;

-- Keys older than a day (job_retention): a client retries within minutes.
create or replace function idem_prune() returns int
language plpgsql as $$
declare
    n int;
begin
    delete from idempotency_replies where (scope, key_hash) in (
        select scope, key_hash from idempotency_replies
        where created_at < now() - interval '1 day'
        limit retention_batch()
        for update skip locked);
    get diagnostics n = row_count;
    return n;
end $$;
