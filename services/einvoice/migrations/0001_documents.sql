-- One row per document as the IRP sees it: seller GSTIN + FY + type + number.
-- state: PENDING (written before sending), ACTIVE, CANCELLED, FAILED (the IRP
-- refused it; a later request may send it again).
CREATE TABLE einvoice_documents (
	seller_gstin   TEXT NOT NULL,
	fy             TEXT NOT NULL,
	doc_type       TEXT NOT NULL,
	doc_no         TEXT NOT NULL,
	doc_date       TEXT NOT NULL,
	irn            TEXT NOT NULL,
	irp            TEXT NOT NULL,
	buyer_gstin    TEXT NOT NULL,
	tot_inv_val    DOUBLE PRECISION NOT NULL,
	body_sha256    TEXT NOT NULL,
	request_json   TEXT NOT NULL,
	state          TEXT NOT NULL,
	ack_no         BIGINT NOT NULL DEFAULT 0,
	ack_dt         TEXT NOT NULL DEFAULT '',
	signed_invoice TEXT NOT NULL DEFAULT '',
	signed_qr_code TEXT NOT NULL DEFAULT '',
	ewb_no         BIGINT NOT NULL DEFAULT 0,
	ewb_dt         TEXT NOT NULL DEFAULT '',
	ewb_valid_till TEXT NOT NULL DEFAULT '',
	remarks        TEXT NOT NULL DEFAULT '',
	info_json      TEXT NOT NULL DEFAULT '',
	last_error     TEXT NOT NULL DEFAULT '',
	cancel_date    TEXT NOT NULL DEFAULT '',
	cancel_reason  TEXT NOT NULL DEFAULT '',
	cancel_remark  TEXT NOT NULL DEFAULT '',
	created_at     TEXT NOT NULL,
	updated_at     TEXT NOT NULL,
	PRIMARY KEY (seller_gstin, fy, doc_type, doc_no)
);

CREATE UNIQUE INDEX einvoice_documents_irn ON einvoice_documents (irn);

-- Idempotency-Key of a GenerateIrn call: the body it came with and the
-- document it names, so a replay answers from einvoice_documents.
CREATE TABLE einvoice_idempotency_keys (
	idem_key     TEXT NOT NULL,
	body_sha256  TEXT NOT NULL,
	seller_gstin TEXT NOT NULL,
	fy           TEXT NOT NULL,
	doc_type     TEXT NOT NULL,
	doc_no       TEXT NOT NULL,
	created_at   TEXT NOT NULL,
	PRIMARY KEY (idem_key)
);
