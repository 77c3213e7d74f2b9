-- The post-call summary the configured LLM writes for the rep's manager, one per call.
CREATE TABLE call_summaries (
    call_id     text PRIMARY KEY REFERENCES calls (call_id),
    summary     text,
    -- Set when no summary could be written (the LLM failed every attempt): why, not the text.
    error       text,
    model       text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((summary IS NULL) <> (error IS NULL))
);
