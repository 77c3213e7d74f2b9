-- Read models rebuilt from the event log; `rapport replay` checks them against it.
CREATE TABLE calls (
    call_id            text PRIMARY KEY,
    statechart         text,
    statechart_version text,
    started_at         double precision,
    ended_at           double precision,
    end_reason         text,
    last_seq           bigint NOT NULL
);

CREATE TABLE turns (
    call_id     text             NOT NULL REFERENCES calls (call_id),
    seq         bigint           NOT NULL,  -- the event this turn comes from
    speaker     text             NOT NULL CHECK (speaker IN ('caller', 'agent')),
    text        text             NOT NULL,
    heard_text  text,
    interrupted boolean          NOT NULL,
    at          double precision NOT NULL,
    -- Agent turns: from the VAD's end of the caller's speech to the agent's first audio.
    latency_ms  integer,
    PRIMARY KEY (call_id, seq)
);
