-- What the agent's tools act on during a call: notes it takes in the built-in CRM, and the
-- account executives' calendar it books follow-up meetings in.

-- A note written by a call's tool carries a key (call id and tool call id): a retried activity
-- finds its note already there instead of writing it twice. Seeded and imported notes have none.
ALTER TABLE crm_notes
    ADD COLUMN source_key text UNIQUE,
    ADD COLUMN noted_at   timestamptz NOT NULL DEFAULT now();

-- The people meetings are booked with, and when they take them: weekly hours in their own time
-- zone, cut into slots. Free slots are computed from these hours, so they never run out and need
-- no job to create them; `zone_name` is how the agent says the time zone.
CREATE TABLE calendar_reps (
    rep_id     text PRIMARY KEY CHECK (rep_id ~ '^[a-z][a-z0-9_]*$'),
    name       text NOT NULL,
    title      text NOT NULL,
    timezone   text NOT NULL,
    zone_name  text NOT NULL
);

CREATE TABLE calendar_hours (
    rep_id        text     NOT NULL REFERENCES calendar_reps (rep_id),
    weekday       smallint NOT NULL CHECK (weekday BETWEEN 1 AND 7),  -- ISO: 1 is Monday
    opens         time     NOT NULL,
    closes        time     NOT NULL CHECK (closes > opens),
    slot_minutes  smallint NOT NULL DEFAULT 30 CHECK (slot_minutes > 0),
    PRIMARY KEY (rep_id, weekday)
);

-- One meeting per rep and start time: the database, not the agent, makes double-booking impossible.
CREATE TABLE calendar_meetings (
    meeting_id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    rep_id         text        NOT NULL REFERENCES calendar_reps (rep_id),
    starts_at      timestamptz NOT NULL,
    minutes        smallint    NOT NULL CHECK (minutes > 0),
    call_id        text        NOT NULL,
    -- Whom it is for: the call's own caller, as the call's workflow knows them (never the LLM).
    caller_number  text,
    contact_id     text REFERENCES crm_contacts (contact_id),
    request_key    text        NOT NULL UNIQUE,
    booked_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (rep_id, starts_at)
);

CREATE INDEX calendar_meetings_call ON calendar_meetings (call_id);

INSERT INTO calendar_reps (rep_id, name, title, timezone, zone_name) VALUES
    ('maya', 'Maya Chen',   'Account Executive', 'America/New_York',    'Eastern'),
    ('theo', 'Theo Okafor', 'Account Executive', 'America/Los_Angeles', 'Pacific');

INSERT INTO calendar_hours (rep_id, weekday, opens, closes)
SELECT 'maya', d, time '10:00', time '16:00' FROM generate_series(1, 5) AS d
UNION ALL
SELECT 'theo', d, time '09:00', time '15:00' FROM generate_series(1, 4) AS d;
