-- Settings shared by every replica: the active master key id, the sealed
-- token signing key, bootstrap markers.
CREATE TABLE auth_settings (
	name       TEXT   PRIMARY KEY,
	value      TEXT   NOT NULL,
	updated_ms BIGINT NOT NULL
);

-- IRP credentials per GSTIN and IRP; secrets sealed with the master key.
CREATE TABLE auth_credentials (
	gstin             TEXT   NOT NULL,
	irp               TEXT   NOT NULL,
	client_id         TEXT   NOT NULL,
	client_secret_enc TEXT   NOT NULL,
	username          TEXT   NOT NULL,
	password_enc      TEXT   NOT NULL,
	created_ms        BIGINT NOT NULL,
	updated_ms        BIGINT NOT NULL,
	PRIMARY KEY (gstin, irp)
);

-- The live IRP session per GSTIN and IRP (token and SEK sealed), and the
-- lease that lets one replica at a time authenticate for it.
CREATE TABLE auth_sessions (
	gstin          TEXT   NOT NULL,
	irp            TEXT   NOT NULL,
	auth_token_enc TEXT   NOT NULL DEFAULT '',
	sek_enc        TEXT   NOT NULL DEFAULT '',
	expire_ms      BIGINT NOT NULL DEFAULT 0,
	checked_ms     BIGINT NOT NULL DEFAULT 0,
	lease_owner    TEXT   NOT NULL DEFAULT '',
	lease_until_ms BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (gstin, irp)
);

-- API keys: only the SHA-256 of the key is kept.
CREATE TABLE auth_api_keys (
	key_id     TEXT    PRIMARY KEY,
	tenant     TEXT    NOT NULL,
	key_hash   TEXT    NOT NULL UNIQUE,
	gstins     TEXT    NOT NULL,
	pans       TEXT    NOT NULL,
	admin      INTEGER NOT NULL,
	created_ms BIGINT  NOT NULL,
	revoked_ms BIGINT  NOT NULL DEFAULT 0
);
CREATE INDEX auth_api_keys_tenant ON auth_api_keys (tenant);
