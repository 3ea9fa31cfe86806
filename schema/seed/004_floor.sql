-- Demo floor rules for both demo stores (the defaults, written out so a manager can see and
-- change them). Idempotent: existing rows are kept.
insert into floor_settings (store_id)
select id from stores where code in ('paris-opera', 'lyon-part-dieu')
on conflict (store_id) do nothing;
