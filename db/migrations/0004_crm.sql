-- The built-in CRM: accounts, their contacts (looked up by phone number), and notes on past contact.
-- A team with its own CRM points RAPPORT_CRM at it instead; these tables then stay empty.
CREATE TABLE crm_accounts (
    account_id  text PRIMARY KEY,
    name        text    NOT NULL,
    industry    text,
    employees   integer CHECK (employees > 0)
);

CREATE TABLE crm_contacts (
    contact_id  text PRIMARY KEY,
    account_id  text NOT NULL REFERENCES crm_accounts (account_id),
    name        text NOT NULL,
    title       text,
    -- E.164, the form callers' numbers arrive in.
    phone       text UNIQUE CHECK (phone ~ '^\+[1-9][0-9]{6,14}$'),
    email       text
);

CREATE TABLE crm_notes (
    contact_id  text NOT NULL REFERENCES crm_contacts (contact_id),
    noted_on    date NOT NULL,
    note        text NOT NULL
);

CREATE INDEX crm_notes_contact ON crm_notes (contact_id, noted_on DESC);
