-- Demo devices: an iPhone with a year of diagnostics (battery health going down) and a repair in
-- progress at Paris Opéra, a MacBook with an imported tool report, and a phone known by its IMEI.
-- Idempotent: does nothing once the demo iPhone exists. Everything goes through the same SQL
-- functions as the API, so the demo record is hash-chained like any other.
--
-- The repair's customer status link is /api/repair-status/demo-repair-status-link-for-paris-opera-000
-- (demo data only: the hash below is its SHA-256, as link.c stores every customer link).
do $seed$
declare
    paris bigint;
    tech bigint;
    spec bigint;
    rep json;
    rid bigint;
    -- The approval link is answered right here, so its token never needs to be known.
    approval constant text := encode(sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 'hex');
begin
    if exists (select 1 from devices where serial = 'F2LDEMO0PH13') then
        return;
    end if;
    select id into paris from stores where code = 'paris-opera';
    select id into tech from staff where email = 'tech@carnet.test';
    select id into spec from staff where email = 'specialist@carnet.test';
    if paris is null or tech is null then
        return;
    end if;

    perform device_put(tech, 'F2LDEMO0PH13',
        '{"model": "iPhone 13", "warranty_end": "2027-03-01"}', 'seed');
    perform device_owner_add(spec, 'F2LDEMO0PH13', jsonb_build_object('store_id', paris,
        'name', 'Claire Martin', 'email', 'claire.martin@example.com', 'phone', '+33 6 48 27 19 05'),
        'seed');
    perform device_diagnostic_add(tech, 'F2LDEMO0PH13', jsonb_build_object('store_id', paris,
        'performed_at', now() - interval '300 days', 'summary', 'yearly check',
        'results', '[{"test": "battery", "passed": true, "values": [{"name": "battery_health", "value": 96, "unit": "%"}, {"name": "cycle_count", "value": 180, "unit": "cycles"}]},
                     {"test": "storage", "passed": true, "values": [{"name": "storage_health", "value": 99, "unit": "%"}]}]'::jsonb),
        'seed');
    perform device_diagnostic_add(tech, 'F2LDEMO0PH13', jsonb_build_object('store_id', paris,
        'performed_at', now() - interval '120 days',
        'results', '[{"test": "battery", "passed": true, "values": [{"name": "battery_health", "value": 91, "unit": "%"}, {"name": "cycle_count", "value": 402, "unit": "cycles"}]}]'::jsonb),
        'seed');
    perform device_diagnostic_add(tech, 'F2LDEMO0PH13', jsonb_build_object('store_id', paris,
        'performed_at', now() - interval '1 day', 'summary', 'screen does not respond at the top',
        'results', '[{"test": "battery", "passed": true, "values": [{"name": "battery_health", "value": 87, "unit": "%"}, {"name": "cycle_count", "value": 515, "unit": "cycles"}]},
                     {"test": "touchscreen", "passed": false, "note": "dead zone across the top edge"}]'::jsonb),
        'seed');

    rep := repair_open(tech, paris, '{"serial": "F2LDEMO0PH13", "problem": "Touch does not respond at the top of the screen",
        "intake": {"checklist": [{"item": "screen", "ok": false, "note": "hairline crack top left"},
                                 {"item": "back glass", "ok": true}, {"item": "buttons", "ok": true},
                                 {"item": "water damage indicator", "ok": true}],
                   "accessories": "case", "passcode_provided": true},
        "kept_overnight": true}'::jsonb,
        '90a9b7558a6b82c2479600071cc4da54026386ce89b3e549385265a2bfa03be8', 'seed');
    rid := (rep->>'id')::bigint;
    perform repair_transition(tech, rid, '{"to": "diagnosing"}', 'seed');
    perform repair_estimate(tech, rid, '{"diagnosis": "The display is cracked; touch works.",
        "lines": [{"kind": "part", "description": "Display assembly", "quantity": 1, "unit_price": 19083, "vat_rate": 2000},
                  {"kind": "labour", "description": "Labour", "quantity": 1, "unit_price": 4167, "vat_rate": 2000}]}',
        approval, 'seed');
    perform repair_transition(tech, rid, '{"to": "awaiting_approval"}', 'seed');
    perform repair_estimate_decide(approval, true, '{}');
    perform repair_transition(tech, rid, '{"to": "repairing"}', 'seed');
    perform repair_part_add(tech, rid, '{"part_number": "661-21990", "serial": "DSP0DEMO4412", "description": "Display assembly"}', 'seed');
    perform repair_note_add(tech, rid, '{"text": "Display replaced; running calibration."}', 'seed');
    perform repair_promise(tech, rid, jsonb_build_object('promised_at', now() + interval '1 day'), 'seed');
    -- Claire heard of each step long ago: her messages are out (a delivered message keeps no
    -- text, and nothing written here in clear outlives carnetd's start-up sealing pass).
    update outbox set status = 'sent', sent_at = now(), transport = 'file',
                      subject = '', body = '', sms = ''
    where ref_type = 'repair' and ref_id = rid and status = 'pending';

    perform device_put(tech, 'C02DEMO0MBP1', '{"model": "MacBook Pro 14-inch (2021)", "warranty_end": "2025-11-30"}', 'seed');
    perform device_diagnostic_import(tech, 'C02DEMO0MBP1', jsonb_build_object('store_id', paris,
        'report', jsonb_build_object('format', 'carnet-diag/1', 'tool', '{"name": "DiagKit", "version": "4.2"}'::jsonb,
            'device', '{"serial": "c02demo0mbp1"}'::jsonb, 'started_at', now() - interval '2 hours',
            'tests', '[{"id": "battery", "status": "PASS", "measurements": {"battery_health": {"value": 82, "unit": "%"}, "cycle_count": {"value": 731, "unit": "cycles"}}},
                       {"id": "ssd", "status": "PASS", "measurements": {"storage_health": {"value": 97, "unit": "%"}}},
                       {"id": "thermal", "status": "FAIL", "message": "fan speed below specification"}]'::jsonb)),
        'seed');

    perform device_put(spec, '353918051234561', '{"model": "Galaxy S22"}', 'seed');
end
$seed$;
