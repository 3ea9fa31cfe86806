-- A standby offer leads to the offer (issue 18). The offer message is written by the standby
-- job, which knows only the hash of the link the customer got when joining; so the job mints
-- a second private link to the same standby place (message_token_new, as every link the
-- database mints) and keeps its hash here. Either link opens the place; the offer link dies
-- with it. A place is offered at most once (an offer ends booked, expired or left), so one
-- column holds it.
--
-- offered_starts_at is the time that was offered: a claim books it only while the held
-- appointment is still booked at that time (staff may have cancelled or moved it meanwhile).
alter table standby add column offer_token_hash text unique,
                    add column offered_starts_at timestamptz;

-- Offers held when this is deployed were made for their appointment's time.
update standby s set offered_starts_at = a.starts_at
from appointments a
where a.id = s.offered_appointment_id and s.status = 'offered';
