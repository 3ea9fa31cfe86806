-- 026: a repair's intake: the device's condition as a technician found it, photos from the
-- tablet, and the customer's signature of the intake terms.
--
-- Append-only, as the health record is: an intake record is written once; a correction is a new
-- record naming the one it corrects (the newest is the current one). Photos and signatures are
-- never rewritten either (triggers in schema/api/intake.sql). Each write also appends an entry
-- to the device's health record (kind intake_condition, intake_photo, intake_signature), which
-- carries a photo's or a signature's SHA-256, so the chain vouches for the bytes kept here.
--
-- repair_orders.intake (003) keeps what was typed when the order was opened; it is shown as the
-- order's opening checklist and is not changed.

create table repair_intakes (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    store_id bigint not null references stores(id),
    screen text not null check (screen in ('intact', 'scratched', 'cracked', 'broken')),
    housing text not null check (housing in ('intact', 'scuffed', 'dented', 'cracked')),
    liquid text not null check (liquid in ('not_triggered', 'triggered', 'not_checked')),
    accessories text[] not null default '{}' check (cardinality(accessories) <= 20),
    note text check (length(note) <= 1000),
    corrects bigint references repair_intakes(id),
    entry_id bigint references record_entries(id),
    recorded_by bigint not null references staff(id),
    recorded_at timestamptz not null default now()
);
create index repair_intakes_repair_idx on repair_intakes (repair_id, id desc);

-- Device photos (not personal data: the device, not its owner), kept in the database so a
-- backup holds them with the record that names their hash. 5 MiB each at most (intake.c checks
-- it first, with the bytes' type).
create table repair_photos (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    store_id bigint not null references stores(id),
    sha256 bytea not null check (length(sha256) = 32),
    content_type text not null check (content_type in ('image/jpeg', 'image/png', 'image/webp')),
    size int not null check (size between 1 and 5242880),
    bytes bytea not null,
    taken_by bigint not null references staff(id),
    taken_at timestamptz not null default now(),
    unique (repair_id, sha256),
    check (length(bytes) = size)
);

-- The terms a customer signs at intake, by version; a signature names the version it signed.
create table intake_terms (
    version text primary key check (version ~ '^[a-z0-9][a-z0-9.-]{0,31}$'),
    text_en text not null,
    text_fr text not null,
    created_at timestamptz not null default now()
);
insert into intake_terms (version, text_en, text_fr) values ('2026-12', 
    'I confirm the condition of my device as recorded above. The store is not responsible for '
    || 'data loss: I have backed up my data. Liquid damage or hidden damage found later may '
    || 'change the estimate; nothing is repaired without my approval. A device not collected '
    || 'within 90 days of being ready may be disposed of.',
    'Je confirme l''état de mon appareil tel que relevé ci-dessus. Le magasin n''est pas '
    || 'responsable de la perte de données : j''ai sauvegardé mes données. Une oxydation ou un '
    || 'dommage caché découvert plus tard peut modifier le devis ; rien n''est réparé sans mon '
    || 'accord. Un appareil non retiré dans les 90 jours après qu''il est prêt peut être détruit.');

-- The customer's signature: a small PNG drawn on the tablet, personal data (017): `image` holds
-- its base64 sealed by carnetd (a pd marker; intake.c checks the bytes before sealing), opened
-- only on its way to a staff reply. sha256 and size are of the PNG bytes, computed by carnetd.
create table repair_signatures (
    id bigint generated always as identity primary key,
    repair_id bigint not null references repair_orders(id),
    store_id bigint not null references stores(id),
    intake_id bigint not null unique references repair_intakes(id),
    terms_version text not null references intake_terms(version),
    image text,
    sha256 bytea not null check (length(sha256) = 32),
    size int not null check (size between 1 and 12288),
    recorded_by bigint not null references staff(id),
    signed_at timestamptz not null default now()
);
create index repair_signatures_repair_idx on repair_signatures (repair_id, id desc);

insert into pd_columns (tbl, col, typ, mode) values ('repair_signatures', 'image', 'text', 'value');
-- The sealing job's look for clear values, as 017 made for the other columns.
create index pd_clear_repair_signatures_image on repair_signatures (id)
    where image not like '{{pd:%';
