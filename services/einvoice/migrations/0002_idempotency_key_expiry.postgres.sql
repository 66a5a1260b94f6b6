-- created_unix_ms: when an Idempotency-Key was stored, in Unix milliseconds, so keys older
-- than the configured TTL are found (and swept) through an index. created_at is RFC 3339
-- text without fixed width and does not sort.
-- (Since this version einvoice_documents.state may also be UNVERIFIED: the IRP registered
-- the document but its signed answer did not verify yet; no schema change is needed.)
ALTER TABLE einvoice_idempotency_keys ADD COLUMN created_unix_ms BIGINT NOT NULL DEFAULT 0;

UPDATE einvoice_idempotency_keys
SET created_unix_ms = FLOOR(EXTRACT(EPOCH FROM created_at::timestamptz) * 1000)::BIGINT;

CREATE INDEX einvoice_idempotency_keys_created ON einvoice_idempotency_keys (created_unix_ms);
