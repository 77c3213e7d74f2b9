-- Projections are brought up to date from each new batch alone, not by re-reading the whole call:
-- the end of the caller's speech that still awaits the agent's reply is part of the fold's state.
ALTER TABLE calls ADD COLUMN awaiting_reply_since double precision;
