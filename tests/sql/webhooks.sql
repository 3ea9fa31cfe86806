-- Webhooks: endpoints of a store (managers only, 404 across stores), events written by the
-- triggers only for active endpoints that want them, with no customer data, and the claim and
-- marks that deliver them: one per endpoint at a time, retries further apart, then failed.
begin;
\ir _helpers.sql

-- Bad bodies and the wrong callers change nothing.
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :manager, 'r', :paris,
                          '{"url": "http://x.example/h", "events": ["booking.created"]}',
                          pg_temp.pd('whsec_a')));
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :manager, 'r', :paris,
                          '{"url": "https://x.example/h", "events": []}', pg_temp.pd('whsec_a')));
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :manager, 'r', :paris,
                          '{"url": "https://x.example/h", "events": ["booking.moved"]}',
                          pg_temp.pd('whsec_a')));
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :manager, 'r', :paris,
                          '{"url": "https://x.example/h", "events": ["booking.created"]}',
                          'whsec_in_clear'));
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :tech, 'r', :paris,
                          '{"url": "https://x.example/h", "events": ["booking.created"]}',
                          pg_temp.pd('whsec_a')));
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, pg_temp.pd(''https://x.example/h''))', :lyon_manager, 'r', :paris,
                          '{"url": "https://x.example/h", "events": ["booking.created"]}',
                          pg_temp.pd('whsec_a')));
select count(*) as endpoints from webhook_endpoints;

-- Made: the reply has no secret; duplicates in events are dropped.
select w ->> 'url' as url, w -> 'events' as events, w ->> 'active' as active, w::jsonb ? 'secret' as secret
from webhook_create(:manager, 'r', :paris,
                    '{"url": "https://x.example/h?k=s3cret", "events": ["repair.moved", "booking.created",
                      "booking.created"], "description": " front desk "}',
                    pg_temp.pd('whsec_a'), pg_temp.pd('https://x.example/h?k=s3cret')) w;
select id as hook from webhook_endpoints order by id desc limit 1 \gset
select description, url like '{{pd:%' as url_sealed, url_shown from webhook_endpoints
where id = :hook;
-- The URL comes sealed (carnetd seals what it checked), in create and update alike.
select pg_temp.try(format('select webhook_create(%s, %L, %s, %L, %L, %L)', :manager, 'r', :paris,
                          '{"url": "https://x.example/h", "events": ["booking.created"]}',
                          pg_temp.pd('whsec_a'), 'https://x.example/h'));
select pg_temp.try(format('select webhook_update(%s, %L, %s, %s, %L, %L)', :manager, 'r', :paris,
                          :hook, '{"url": "https://x.example/h2"}', 'https://x.example/h2'));
select webhook_url_shown(u) from unnest(array['https://a.example', 'https://a.example/',
    'https://a.example:8443/x', 'https://a.example?x=1', 'https://[2001:db8::1]/h/k#f']) u;
select json_array_length(webhook_list(:manager, 'r', :paris) -> 'webhooks') as paris,
       json_array_length(webhook_list(:lyon_manager, 'r', :lyon) -> 'webhooks') as lyon;

-- Another store's endpoint is not found, whoever asks.
select pg_temp.try(format('select webhook_update(%s, %L, %s, %s, %L, null)', :lyon_manager, 'r', :lyon,
                          :hook, '{"active": false}'));
select pg_temp.try(format('select webhook_delete(%s, %L, %s, %s)', :lyon_manager, 'r', :lyon, :hook));
select pg_temp.try(format('select webhook_delivery_log(%s, %L, %s, %s, 10)', :lyon_manager, 'r',
                          :lyon, :hook));
-- Checked before carnetd judges a URL: the store's manager and their endpoint only.
select webhook_check_access(:manager, 'r', :paris, null)::jsonb ->> 'store_id' = :'paris' as store_ok,
       webhook_check_access(:manager, 'r', :paris, :hook)::jsonb ->> 'id' = :'hook' as hook_ok;
select pg_temp.try(format('select webhook_check_access(%s, %L, %s, %s)', :manager, 'r', :paris,
                          :hook + 1000));
select pg_temp.try(format('select webhook_check_access(%s, %L, %s, %s)', :lyon_manager, 'r',
                          :lyon, :hook));
select pg_temp.try(format('select webhook_check_access(%s, %L, %s, %s)', :lyon_manager, 'r',
                          :paris, :hook));
select pg_temp.try(format('select webhook_check_access(%s, %L, %s, null)', :tech, 'r', :paris));
select pg_temp.try(format('select webhook_update(%s, %L, %s, %s, %L, null)', :manager, 'r', :paris,
                          :hook, '{}'));
select pg_temp.try(format('select webhook_update(%s, %L, %s, %s, %L, null)', :manager, 'r', :paris,
                          :hook, '{"active": "yes"}'));

-- A fact writes one event and one delivery per endpoint that wants it; the payload carries
-- no name, contact or booking code.
insert into webhook_endpoints (store_id, url, events, secret, active)
values (:paris, 'https://off.example/h', '{booking.created}', pg_temp.pd('whsec_b'), false);
select count(*) as events_before from webhook_events;
select id as rid, state as rstate from repair_orders where store_id = :paris order by id limit 1 \gset
insert into repair_moves (repair_id, from_state, to_state, actor)
values (:rid, :'rstate', 'diagnosing', :tech);
select type, payload -> 'data' ->> 'to' as moved_to, payload ? 'id' as has_id,
       payload ->> 'store_id' = :'paris' as store
from webhook_events order by id;
select count(*) as deliveries from webhook_deliveries;

-- The claim: one per endpoint at a time, the oldest first; a lost claim records nothing.
insert into repair_moves (repair_id, from_state, to_state, actor)
values (:rid, 'diagnosing', 'repairing', :tech);
select json_array_length(c -> 'deliveries') as claimed, c ->> 'backlog' as backlog,
       c -> 'deliveries' -> 0 ->> 'type' as type, c -> 'deliveries' -> 0 ->> 'attempt' as attempt,
       c -> 'deliveries' -> 0 ->> 'secret' like '{{pd:%' as sealed
from webhook_claim(10, 60) c;
select json_array_length(webhook_claim(10, 60) -> 'deliveries') as while_sending;
select id as d1, claim as c1 from webhook_deliveries order by id limit 1 \gset
select webhook_mark(:d1, gen_random_uuid(), 200, null, 12, 1000) as lost_claim;

-- A failed try waits one base, the next one goes meanwhile; after the seventh try (six
-- retries) the delivery has failed.
select webhook_mark(:d1, :'c1', 500, 'HTTP 500', 12, 1000) as first;
select next_attempt_at - now() between interval '0.8 s' and interval '1.2 s' as waits_one_base
from webhook_deliveries where id = :d1;
select json_array_length(webhook_claim(10, 60) -> 'deliveries') as the_next_goes_meanwhile;
update webhook_deliveries set next_attempt_at = now(), attempts = 7, status = 'sending',
    claim = gen_random_uuid() where id = :d1;
select webhook_mark(:d1, (select claim from webhook_deliveries where id = :d1), null,
                    'timeout', 10000, 1000) as last;
select d ->> 'status' as status, d ->> 'attempts' as attempts, d -> 'tries' -> 0 ->> 'error' as error,
       d ->> 'next_attempt_at' is not null as next, d ->> 'failed_at' is not null as failed
from json_array_elements(webhook_delivery_log(:manager, 'r', :paris, :hook, 10) -> 'deliveries') d
order by d ->> 'id';

-- Rotating needs a sealed secret; deleting takes the log with it.
select pg_temp.try(format('select webhook_rotate_secret(%s, %L, %s, %s, %L)', :manager, 'r',
                          :paris, :hook, 'whsec_clear'));
select webhook_rotate_secret(:manager, 'r', :paris, :hook, pg_temp.pd('whsec_c'))
       ->> 'secret_rotated_at' is not null as rotated;
select webhook_delete(:manager, 'r', :paris, :hook) ->> 'deleted' as deleted;
select count(*) as left_deliveries from webhook_deliveries where endpoint_id = :hook;
rollback;
