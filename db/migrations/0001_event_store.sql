-- The append-only event log: one row per call event, numbered per call from 1.
CREATE TABLE events (
    call_id     text             NOT NULL CHECK (call_id <> ''),
    seq         bigint           NOT NULL CHECK (seq >= 1),
    type        text             NOT NULL CHECK (type <> ''),
    version     integer          NOT NULL CHECK (version >= 1),
    at          double precision NOT NULL,
    data        jsonb            NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    recorded_at timestamptz      NOT NULL DEFAULT now(),
    -- Readers that follow the log across calls order by transaction id, not by an identity
    -- column: an identity value can commit after a larger one and be skipped forever.
    txid        xid8             NOT NULL DEFAULT pg_current_xact_id(),
    -- The event's identity: a retried append of the same (call, seq) writes nothing.
    PRIMARY KEY (call_id, seq)
);

CREATE INDEX events_txid ON events (txid);

-- Events are never changed or removed once written.
CREATE FUNCTION events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only (% on call %)', TG_OP, OLD.call_id;
END;
$$;

CREATE TRIGGER events_append_only
    BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION events_append_only();
