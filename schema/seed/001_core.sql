-- Demo store for `make run` and the tests. Idempotent: does nothing once the demo store exists.
-- Every demo account's password is "carnet-demo" (argon2id hash below, made by
-- `echo -n carnet-demo | build/carnetd --hash-password`).
do $seed$
declare
    pw constant text := '$argon2id$v=19$m=65536,t=2,p=1$FmsTUVvbSanQaGA8W49fBQ$xTZLvR8AE7edCIxeM7mwk2PIj/+uofvYAA4zqLUze/s';
    paris bigint;
    lyon bigint;
    s bigint;
begin
    if exists (select 1 from stores where code = 'paris-opera') then
        return;
    end if;
    insert into stores (code, name, timezone) values ('paris-opera', 'Carnet Paris Opéra', 'Europe/Paris')
        returning id into paris;
    insert into stores (code, name, timezone) values ('lyon-part-dieu', 'Carnet Lyon Part-Dieu', 'Europe/Paris')
        returning id into lyon;

    insert into staff (email, name, password_hash, is_admin)
        values ('admin@carnet.test', 'Ada Admin', pw, true);
    insert into staff (email, name, password_hash) values ('manager@carnet.test', 'Marie Manager', pw)
        returning id into s;
    insert into staff_roles values (s, paris, 'manager'), (s, paris, 'specialist');
    insert into staff (email, name, password_hash) values ('specialist@carnet.test', 'Sam Specialist', pw)
        returning id into s;
    insert into staff_roles values (s, paris, 'specialist');
    insert into staff (email, name, password_hash) values ('tech@carnet.test', 'Théo Technicien', pw)
        returning id into s;
    insert into staff_roles values (s, paris, 'technician');
    insert into staff (email, name, password_hash) values ('tech2@carnet.test', 'Tess Technician', pw)
        returning id into s;
    insert into staff_roles values (s, paris, 'technician');
    insert into staff (email, name, password_hash) values ('lyon@carnet.test', 'Léa Lyon', pw)
        returning id into s;
    insert into staff_roles values (s, lyon, 'manager'), (s, lyon, 'specialist'), (s, lyon, 'technician');
end
$seed$;
