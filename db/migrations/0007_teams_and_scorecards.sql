-- Who a call belongs to, who may see it, and its scorecard.
--
-- A call names its rep (`call_started.rep_id`); the rep's team and the team's organisation decide
-- which managers see it. Managers sign in with a password (scrypt); workers and agents use API
-- tokens. Only hashes are stored.
CREATE TABLE orgs (
    org_id  text PRIMARY KEY,
    name    text NOT NULL
);

CREATE TABLE teams (
    team_id text PRIMARY KEY,
    org_id  text NOT NULL REFERENCES orgs (org_id),
    name    text NOT NULL
);

CREATE TABLE reps (
    rep_id  text PRIMARY KEY,
    team_id text NOT NULL REFERENCES teams (team_id),
    name    text NOT NULL
);

CREATE TABLE managers (
    email         text PRIMARY KEY CHECK (email = lower(email)),
    name          text NOT NULL,
    team_id       text NOT NULL REFERENCES teams (team_id),
    password_hash text NOT NULL
);

CREATE TABLE manager_sessions (
    token_hash  text PRIMARY KEY,
    email       text NOT NULL REFERENCES managers (email) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE api_tokens (
    token_hash  text PRIMARY KEY,
    name        text NOT NULL,
    org_id      text NOT NULL REFERENCES orgs (org_id),
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The call's rep and wall-clock start, from call_started (the projection; `rapport replay` checks).
ALTER TABLE calls ADD COLUMN rep_id text;
ALTER TABLE calls ADD COLUMN started_wall double precision;
CREATE INDEX calls_rep ON calls (rep_id, started_wall DESC);

CREATE TABLE scorecards (
    call_id       text PRIMARY KEY REFERENCES calls (call_id),
    metrics       jsonb NOT NULL,
    -- [{"criterion", "score", "reason", "evidence": [{"quote", "at_s"}], "checks": [...]}]
    rubric        jsonb NOT NULL DEFAULT '[]',
    rubric_name   text,
    -- pending: metrics stored, the LLM still judging; scored; failed: rubric_error says why.
    rubric_status text NOT NULL CHECK (rubric_status IN ('pending', 'scored', 'failed')),
    rubric_error  text,
    -- The rubric's overall score (0..1), NULL until scored.
    score         real CHECK (score BETWEEN 0 AND 1),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX scorecards_updated ON scorecards (updated_at);

-- Demo organisations: Routewise (two teams) and Acme (one), so the dashboard has someone to
-- show and someone to hide. Managers are added with `rapport manager add`.
INSERT INTO orgs (org_id, name) VALUES ('routewise', 'Routewise'), ('acme', 'Acme Fabrication');
INSERT INTO teams (team_id, org_id, name) VALUES
    ('routewise-east', 'routewise', 'East'),
    ('routewise-west', 'routewise', 'West'),
    ('acme-inside', 'acme', 'Inside sales');
INSERT INTO reps (rep_id, team_id, name) VALUES
    ('jordan', 'routewise-east', 'Jordan Avery'),
    ('sam', 'routewise-west', 'Sam Ortiz'),
    ('priya', 'acme-inside', 'Priya Shah');
