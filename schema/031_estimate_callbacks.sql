-- 031: a customer's "call me" about an estimate (027) joins the store's call-back list (028):
-- when it was made, by whom, and how it went, as for an observation's call-back. Asking again
-- opens it again.
alter table repair_estimates add column callback_done_at timestamptz,
    add column callback_done_by bigint references staff(id),
    add column callback_outcome text
        check (callback_outcome in ('reached', 'no_answer', 'left_message')),
    add check ((callback_done_at is null) = (callback_outcome is null));
