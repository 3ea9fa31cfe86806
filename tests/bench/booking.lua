-- wrk script of tests/bench/case_booking.sh: thread t of T sends its n-th booking for the
-- quarter hour BOOKING_BASE + (n * T + t) * 15 min, so no two requests of a run ask for the
-- same slot. The body is what the booking page sends, personal data in clear (carnetd seals it).
local threads = tonumber(os.getenv("BOOKING_THREADS") or "2")
local base = tonumber(os.getenv("BOOKING_BASE"))
local service = os.getenv("BOOKING_SERVICE")
local next_id = 0

function setup(thread)
    thread:set("tid", next_id)
    next_id = next_id + 1
end

local n = 0

function request()
    local k = n * threads + tid
    n = n + 1
    local body = string.format('{"service_id": %s, "starts_at": "%s", "name": "Bench Customer", '
                               .. '"email": "bench@example.com", "problem": ""}',
                               service, os.date("!%Y-%m-%dT%H:%M:%SZ", base + k * 900))
    return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, body)
end
