-- API tokens expire and can be revoked: a leaked token is not a key for ever. Tokens made before
-- this migration get the default lifetime from now.
ALTER TABLE api_tokens
    ADD COLUMN expires_at timestamptz,
    ADD COLUMN revoked_at timestamptz;
UPDATE api_tokens SET expires_at = now() + interval '90 days';
ALTER TABLE api_tokens ALTER COLUMN expires_at SET NOT NULL;
