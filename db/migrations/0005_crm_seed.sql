-- Seed accounts and contacts: the people the example scenarios call as (numbers in the 555-01xx
-- range, reserved for fiction).
INSERT INTO crm_accounts (account_id, name, industry, employees) VALUES
    ('acc-routewise',  'Routewise',          'route-planning software', 85),
    ('acc-northwind',  'Northwind Freight',  'logistics',               620),
    ('acc-acme',       'Acme Fabrication',   'manufacturing',           1200),
    ('acc-bluewater',  'Bluewater Clinics',  'healthcare',              340);

INSERT INTO crm_contacts (contact_id, account_id, name, title, phone, email) VALUES
    ('con-jordan', 'acc-routewise', 'Jordan Avery', 'Account Executive',       '+15555550101', 'jordan@routewise.example'),
    ('con-dana',   'acc-northwind', 'Dana Reyes',   'Operations Director',     '+15555550102', 'dana@northwind.example'),
    ('con-priya',  'acc-acme',      'Priya Shah',   'Head of Sales Operations', '+15555550103', 'priya@acme.example'),
    ('con-marcus', 'acc-bluewater', 'Marcus Bell',  'IT Manager',              '+15555550104', 'marcus@bluewater.example');

INSERT INTO crm_notes (contact_id, noted_on, note) VALUES
    ('con-jordan', '2026-09-14', 'Emailed Northwind Freight about route planning; Dana asked for a case study.'),
    ('con-jordan', '2026-10-02', 'Sent the Harbor Logistics case study; no reply yet.'),
    ('con-priya',  '2026-10-21', 'Downloaded the pricing guide for teams of 50+ reps.'),
    ('con-priya',  '2026-11-03', 'Attended the webinar on AI roleplay for onboarding.'),
    ('con-marcus', '2026-08-30', 'Asked whether call recordings can stay in their own cloud region.');
