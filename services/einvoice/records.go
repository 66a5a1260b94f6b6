package einvoice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Document states.
const (
	statePending   = "PENDING"
	stateActive    = "ACTIVE"
	stateCancelled = "CANCELLED"
	stateFailed    = "FAILED"
	// stateUnverified is a registration the IRP made whose signed answer did not verify
	// against the configured certificates: stored in full, never sent again, and answered
	// only once it verifies (Service.reverify).
	stateUnverified = "UNVERIFIED"
)

// unverifiedPrefix starts the last_error of a registration whose signed answer did not
// verify. A row cancelled while UNVERIFIED keeps it, so its signed data is still checked
// before it is answered.
const unverifiedPrefix = "signature did not verify: "

// record is one row of einvoice_documents.
type record struct {
	Key         doc.DocKey
	DocDate     string // dd/MM/yyyy
	IRN         string
	IRP         string
	BuyerGSTIN  string
	TotInvVal   float64
	BodySHA256  string
	RequestJSON string
	State       string

	AckNo         int64
	AckDt         string
	SignedInvoice string
	SignedQRCode  string
	EwbNo         int64
	EwbDt         string
	EwbValidTill  string
	Remarks       string
	InfoJSON      string
	LastError     string
	CancelDate    string
	CancelReason  string
	CancelRemark  string
	// UpdatedAt is when the row was last written (RFC 3339, UTC). A request that claims a
	// row keeps the stamp it wrote: a later stamp means another request (on another
	// replica) has taken the document since.
	UpdatedAt string
}

// registered reports whether the IRP has this document (with or without a cancel, verified
// or not).
func (r *record) registered() bool {
	return r.State == stateActive || r.State == stateCancelled || r.State == stateUnverified
}

// unverified reports whether the stored signed answer has not verified yet: an UNVERIFIED
// row, or one cancelled while it was UNVERIFIED.
func (r *record) unverified() bool {
	return r.State == stateUnverified || r.State == stateCancelled && strings.HasPrefix(r.LastError, unverifiedPrefix)
}

const recordColumns = `seller_gstin, fy, doc_type, doc_no, doc_date, irn, irp, buyer_gstin, tot_inv_val,
	body_sha256, request_json, state, ack_no, ack_dt, signed_invoice, signed_qr_code, ewb_no, ewb_dt,
	ewb_valid_till, remarks, info_json, last_error, cancel_date, cancel_reason, cancel_remark, updated_at`

func scanRecord(row *store.Row) (*record, error) {
	var r record
	err := row.Scan(&r.Key.SellerGSTIN, &r.Key.FY, &r.Key.DocType, &r.Key.DocNo, &r.DocDate, &r.IRN, &r.IRP,
		&r.BuyerGSTIN, &r.TotInvVal, &r.BodySHA256, &r.RequestJSON, &r.State, &r.AckNo, &r.AckDt,
		&r.SignedInvoice, &r.SignedQRCode, &r.EwbNo, &r.EwbDt, &r.EwbValidTill, &r.Remarks, &r.InfoJSON,
		&r.LastError, &r.CancelDate, &r.CancelReason, &r.CancelRemark, &r.UpdatedAt)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// documents is the repository of einvoice_documents and einvoice_idempotency_keys.
type documents struct {
	db  *store.DB
	now func() time.Time
	// keyTTL is how long an Idempotency-Key lives.
	keyTTL time.Duration
}

func (d *documents) stamp() string { return d.now().UTC().Format(time.RFC3339Nano) }

// leftSince reports whether r was last written before t (an unreadable stamp counts as old).
func (r *record) leftSince(t time.Time) bool {
	at, err := time.Parse(time.RFC3339Nano, r.UpdatedAt)
	return err != nil || at.Before(t)
}

func (d *documents) byKey(ctx context.Context, q store.Querier, k doc.DocKey) (*record, error) {
	return scanRecord(q.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM einvoice_documents
		WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4`,
		k.SellerGSTIN, k.FY, k.DocType, k.DocNo))
}

func (d *documents) byIRN(ctx context.Context, irn string) (*record, error) {
	return scanRecord(d.db.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM einvoice_documents WHERE irn = $1`, irn))
}

// latestByNumber finds a document by seller, type and number in any financial year
// (the newest one), for look-ups made without a document date.
func (d *documents) latestByNumber(ctx context.Context, gstin, docType, docNo string) (*record, error) {
	return scanRecord(d.db.QueryRowContext(ctx, `SELECT `+recordColumns+` FROM einvoice_documents
		WHERE seller_gstin = $1 AND doc_type = $2 AND doc_no = $3 ORDER BY fy DESC LIMIT 1`,
		gstin, docType, docNo))
}

// insertDocument writes a new row with the columns a document starts with (insertArgs).
const insertDocument = `INSERT INTO einvoice_documents (seller_gstin, fy, doc_type, doc_no,
	doc_date, irn, irp, buyer_gstin, tot_inv_val, body_sha256, request_json, state, created_at, updated_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`

// insertArgs are insertDocument's arguments for r under irn in state, written at now.
func insertArgs(r *record, irn, state, now string) []any {
	return []any{
		r.Key.SellerGSTIN, r.Key.FY, r.Key.DocType, r.Key.DocNo, r.DocDate, irn, r.IRP, r.BuyerGSTIN,
		r.TotInvVal, r.BodySHA256, r.RequestJSON, state, now,
	}
}

// claimPending writes the pending row of a document about to be sent, or returns the row
// that is already there (pending from an earlier attempt, failed, or registered) as it was.
// A pending or failed row is brought up to date with the body about to be sent. claimed
// says this call made the row PENDING, new or from FAILED, so no other request can have
// sent the document since. r.IRP is left naming the IRP the row names, where the document
// goes: a pending row keeps its own (the document may have reached it) unless pinned says
// the request named r.IRP itself. r.UpdatedAt is set to the stamp written on the row, which
// the request's later writes to it (moveIRP, fail) are conditional on.
func (d *documents) claimPending(ctx context.Context, r *record, pinned bool) (existing *record, claimed bool, err error) {
	stamp := d.stamp()
	r.UpdatedAt = stamp
	// Most documents are new: one statement claims them. Only a row already there takes
	// the transaction below.
	res, err := d.db.ExecContext(ctx, insertDocument+` ON CONFLICT DO NOTHING`, insertArgs(r, r.IRN, statePending, stamp)...)
	if err != nil {
		return nil, false, fmt.Errorf("einvoice: store pending document: %w", err)
	}
	if n, err := res.RowsAffected(); err == nil && n == 1 {
		return nil, true, nil
	}
	irp := r.IRP
	err = d.db.InTx(ctx, func(tx *store.Tx) error {
		// The row's state is read, then updated only if it is still the same: on PostgreSQL
		// another replica may change it between the two (a FAILED row claimed, a PENDING one
		// registered), and then it is read again.
		for range 3 {
			existing, claimed, irp = nil, false, r.IRP
			cur, err := d.byKey(ctx, tx, r.Key)
			switch {
			case store.IsNotFound(err):
				_, err = tx.ExecContext(ctx, insertDocument, insertArgs(r, r.IRN, statePending, stamp)...)
				claimed = err == nil
				return err
			case err != nil:
				return err
			}
			existing = cur
			if cur.registered() {
				return nil
			}
			if cur.State == statePending && !pinned {
				irp = cur.IRP
			}
			res, err := tx.ExecContext(ctx, `UPDATE einvoice_documents SET doc_date = $5, irp = $6, buyer_gstin = $7,
				tot_inv_val = $8, body_sha256 = $9, request_json = $10, state = $11, updated_at = $12, last_error = ''
				WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4 AND state = $13`,
				r.Key.SellerGSTIN, r.Key.FY, r.Key.DocType, r.Key.DocNo, r.DocDate, irp, r.BuyerGSTIN,
				r.TotInvVal, r.BodySHA256, r.RequestJSON, statePending, stamp, cur.State)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				claimed = err == nil && cur.State == stateFailed
				return err
			}
		}
		return errors.New("the document's row kept changing while it was being claimed")
	})
	if err != nil {
		return nil, false, fmt.Errorf("einvoice: store pending document: %w", err)
	}
	r.IRP = irp
	return existing, claimed, nil
}

// complete stores the IRP's signed registration of a document.
func (d *documents) complete(ctx context.Context, k doc.DocKey, det *irpclient.IRNDetails, state string) error {
	return d.write(ctx, k, det, state, "")
}

// completeUnverified stores a registration whose signed answer did not verify (cause says
// which signature and why) as UNVERIFIED, so it is never sent again nor lost.
func (d *documents) completeUnverified(ctx context.Context, k doc.DocKey, det *irpclient.IRNDetails, cause error) error {
	return d.write(ctx, k, det, stateUnverified, unverifiedPrefix+cause.Error())
}

func (d *documents) write(ctx context.Context, k doc.DocKey, det *irpclient.IRNDetails, state, lastError string) error {
	r := record{Key: k}
	r.setAnswer(det, state, lastError)
	// The IRP almost always names the IRN the row already holds: then the IRN index is
	// left alone. Otherwise (the IRP computed it differently) the row takes the IRP's.
	args := []any{
		k.SellerGSTIN, k.FY, k.DocType, k.DocNo, r.IRN, r.State, r.AckNo, r.AckDt, r.SignedInvoice,
		r.SignedQRCode, r.EwbNo, r.EwbDt, r.EwbValidTill, r.Remarks, r.InfoJSON, r.LastError, d.stamp(),
	}
	res, err := d.db.ExecContext(ctx, `UPDATE einvoice_documents SET state = $6, ack_no = $7, ack_dt = $8,
		signed_invoice = $9, signed_qr_code = $10, ewb_no = $11, ewb_dt = $12, ewb_valid_till = $13, remarks = $14,
		info_json = $15, last_error = $16, updated_at = $17
		WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4 AND irn = $5`, args...)
	if err == nil {
		if n, nerr := res.RowsAffected(); nerr == nil && n == 1 {
			return nil
		}
		_, err = d.db.ExecContext(ctx, `UPDATE einvoice_documents SET irn = $5, state = $6, ack_no = $7, ack_dt = $8,
			signed_invoice = $9, signed_qr_code = $10, ewb_no = $11, ewb_dt = $12, ewb_valid_till = $13, remarks = $14,
			info_json = $15, last_error = $16, updated_at = $17
			WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4`, args...)
	}
	if err != nil {
		return fmt.Errorf("einvoice: store signed answer: %w", err)
	}
	return nil
}

// setAnswer puts the IRP's answer on r as write stores it.
func (r *record) setAnswer(det *irpclient.IRNDetails, state, lastError string) {
	r.IRN, r.State, r.AckNo, r.AckDt = det.Irn, state, det.AckNo, det.AckDt
	r.SignedInvoice, r.SignedQRCode = det.SignedInvoice, det.SignedQRCode
	r.EwbNo, r.EwbDt, r.EwbValidTill, r.Remarks = deref(det.EwbNo), deref(det.EwbDt), deref(det.EwbValidTill), deref(det.Remarks)
	r.InfoJSON, r.LastError = "", lastError
	if len(det.Info) > 0 {
		r.InfoJSON = string(infoJSON(det.Info))
	}
}

// stalePending lists up to limit documents left PENDING between since and cutoff, the
// most recently written first: a process that stopped, or gave up, while the IRP's outcome
// was unknown.
func (d *documents) stalePending(ctx context.Context, since, cutoff time.Time, limit int) ([]doc.DocKey, error) {
	rows, err := d.db.QueryContext(ctx, `SELECT seller_gstin, fy, doc_type, doc_no FROM einvoice_documents
		WHERE state = $1 AND updated_at < $2 AND updated_at >= $3 ORDER BY updated_at DESC LIMIT $4`,
		statePending, cutoff.UTC().Format(time.RFC3339Nano), since.UTC().Format(time.RFC3339Nano), limit)
	if err != nil {
		return nil, fmt.Errorf("einvoice: find pending documents: %w", err)
	}
	defer rows.Close()
	var out []doc.DocKey
	for rows.Next() {
		var k doc.DocKey
		if err := rows.Scan(&k.SellerGSTIN, &k.FY, &k.DocType, &k.DocNo); err != nil {
			return nil, fmt.Errorf("einvoice: find pending documents: %w", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

// fail records that the IRP refused the document, or never had it; a later request may
// send it again. The row must still be PENDING as last written at stamp: a row another
// request has claimed since is left to that request's outcome. It reports whether the row
// was marked.
func (d *documents) fail(ctx context.Context, k doc.DocKey, cause, stamp string) (bool, error) {
	res, err := d.db.ExecContext(ctx, `UPDATE einvoice_documents SET state = $5, last_error = $6, updated_at = $7
		WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4 AND state = $8 AND updated_at = $9`,
		k.SellerGSTIN, k.FY, k.DocType, k.DocNo, stateFailed, cause, d.stamp(), statePending, stamp)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// errNotMoved is moveIRP's answer when the row is no longer PENDING as written at stamp.
var errNotMoved = errors.New("einvoice: the document is no longer pending as this request left it")

// moveIRP names irp as the IRP of a PENDING document that has reached none yet, if the
// row is as last written at stamp, and returns the row's new stamp.
func (d *documents) moveIRP(ctx context.Context, k doc.DocKey, irp, stamp string) (string, error) {
	now := d.stamp()
	res, err := d.db.ExecContext(ctx, `UPDATE einvoice_documents SET irp = $5, updated_at = $6
		WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4 AND state = $7 AND updated_at = $8`,
		k.SellerGSTIN, k.FY, k.DocType, k.DocNo, irp, now, statePending, stamp)
	if err != nil {
		return "", err
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return "", errors.Join(errNotMoved, err)
	}
	return now, nil
}

// upsertRegistered stores a registration read from the IRP (Get by IRN / by document), r
// being the document as the IRP signed it. An existing row keeps its request body when it
// holds the same document (buyer and total); one not registered yet that holds another
// (the IRP refused what was sent, and the number was then registered on the NIC portal)
// takes the IRP's, so a send of the other document meets a conflict, as after a DUPIRN.
func (d *documents) upsertRegistered(ctx context.Context, r *record, det *irpclient.IRNDetails) error {
	state := stateActive
	if det.Status == "CNL" {
		state = stateCancelled
	}
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		cur, err := d.byKey(ctx, tx, r.Key)
		if err == nil && !cur.registered() && !sameParties(cur.BuyerGSTIN, cur.TotInvVal, r.BuyerGSTIN, r.TotInvVal) {
			_, err = tx.ExecContext(ctx, `UPDATE einvoice_documents SET buyer_gstin = $5, tot_inv_val = $6,
				body_sha256 = $7, request_json = $8, updated_at = $9
				WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4`,
				r.Key.SellerGSTIN, r.Key.FY, r.Key.DocType, r.Key.DocNo, r.BuyerGSTIN, r.TotInvVal,
				r.BodySHA256, r.RequestJSON, d.stamp())
			return err
		}
		if store.IsNotFound(err) {
			// A row that holds this IRN under another key cannot exist: the IRN is the key's hash.
			_, err = tx.ExecContext(ctx, insertDocument, insertArgs(r, det.Irn, state, d.stamp())...)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("einvoice: store registration: %w", err)
	}
	return d.complete(ctx, r.Key, det, state)
}

// adoptForeign makes a pending row mirror a registration the IRP holds with other details
// (buyer, total) than the document that was sent: the store then agrees with the IRP, and
// the document sent again meets the same conflict.
func (d *documents) adoptForeign(ctx context.Context, k doc.DocKey, buyer string, total float64, data string, det *irpclient.IRNDetails) error {
	_, err := d.db.ExecContext(ctx, `UPDATE einvoice_documents SET buyer_gstin = $5, tot_inv_val = $6,
		body_sha256 = '', request_json = $7, updated_at = $8
		WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4`,
		k.SellerGSTIN, k.FY, k.DocType, k.DocNo, buyer, total, data, d.stamp())
	if err != nil {
		return fmt.Errorf("einvoice: store original registration: %w", err)
	}
	state := stateActive
	if det.Status == "CNL" {
		state = stateCancelled
	}
	return d.complete(ctx, k, det, state)
}

// signedDocument is the document an IRP signed, when it differs from the one stored.
type signedDocument struct {
	BuyerGSTIN string
	TotInvVal  float64
	Data       string
}

// markVerified records that the stored signed answer of an unverified row verifies now: an
// UNVERIFIED row becomes ACTIVE (a cancelled one stays cancelled) and last_error is cleared.
// A non-nil signed replaces buyer, total and request, as adoptForeign does, because the
// IRP holds another document under this number than the one sent.
func (d *documents) markVerified(ctx context.Context, r *record, signed *signedDocument) error {
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		now := d.stamp()
		res, err := tx.ExecContext(ctx, `UPDATE einvoice_documents SET state = $5, last_error = '', updated_at = $6
			WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4 AND state = $7 AND last_error = $8`,
			r.Key.SellerGSTIN, r.Key.FY, r.Key.DocType, r.Key.DocNo, verifiedState(r.State), now, r.State, r.LastError)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 || signed == nil {
			return err // n == 0: changed meanwhile; the caller reads what is stored
		}
		_, err = tx.ExecContext(ctx, `UPDATE einvoice_documents SET buyer_gstin = $5, tot_inv_val = $6,
			body_sha256 = '', request_json = $7, updated_at = $8
			WHERE seller_gstin = $1 AND fy = $2 AND doc_type = $3 AND doc_no = $4`,
			r.Key.SellerGSTIN, r.Key.FY, r.Key.DocType, r.Key.DocNo, signed.BuyerGSTIN, signed.TotInvVal, signed.Data, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("einvoice: store verified registration: %w", err)
	}
	return nil
}

// verifiedState is what a row in state becomes once its signed answer verifies.
func verifiedState(state string) string {
	if state == stateUnverified {
		return stateActive
	}
	return state
}

// markCancelled moves a document to CANCELLED with the IRP's cancel date. The last_error
// of an UNVERIFIED row is kept (see unverified).
func (d *documents) markCancelled(ctx context.Context, irn, cancelDate, reason, remark string) error {
	_, err := d.db.ExecContext(ctx, `UPDATE einvoice_documents SET state = $2, cancel_date = $3, cancel_reason = $4,
		cancel_remark = $5, updated_at = $6 WHERE irn = $1`,
		irn, stateCancelled, cancelDate, reason, remark, d.stamp())
	if err != nil {
		return fmt.Errorf("einvoice: store cancellation: %w", err)
	}
	return nil
}

// idempotencyKey is a stored Idempotency-Key.
type idempotencyKey struct {
	BodySHA256 string
	Key        doc.DocKey
}

// rememberKey stores an Idempotency-Key with its body, or returns the one stored before.
// A key older than keyTTL counts as unused: it is replaced by this one.
func (d *documents) rememberKey(ctx context.Context, key string, k idempotencyKey) (*idempotencyKey, error) {
	var prev *idempotencyKey
	now := d.now()
	err := d.db.InTx(ctx, func(tx *store.Tx) error {
		// On PostgreSQL two requests with one new key may both read none: the one whose
		// INSERT inserts nothing (the other's row, committed meanwhile) reads it again.
		for range 3 {
			var p idempotencyKey
			var created int64
			err := tx.QueryRowContext(ctx, `SELECT body_sha256, seller_gstin, fy, doc_type, doc_no, created_unix_ms
				FROM einvoice_idempotency_keys WHERE idem_key = $1`, key).
				Scan(&p.BodySHA256, &p.Key.SellerGSTIN, &p.Key.FY, &p.Key.DocType, &p.Key.DocNo, &created)
			switch {
			case err == nil && created > d.keyCutoff(now):
				prev = &p
				return nil
			case err == nil:
				_, err = tx.ExecContext(ctx, `UPDATE einvoice_idempotency_keys SET body_sha256 = $2, seller_gstin = $3,
					fy = $4, doc_type = $5, doc_no = $6, created_at = $7, created_unix_ms = $8 WHERE idem_key = $1`,
					key, k.BodySHA256, k.Key.SellerGSTIN, k.Key.FY, k.Key.DocType, k.Key.DocNo,
					now.UTC().Format(time.RFC3339Nano), now.UnixMilli())
				return err
			case !store.IsNotFound(err):
				return err
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO einvoice_idempotency_keys (idem_key, body_sha256, seller_gstin,
				fy, doc_type, doc_no, created_at, created_unix_ms) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
				ON CONFLICT DO NOTHING`,
				key, k.BodySHA256, k.Key.SellerGSTIN, k.Key.FY, k.Key.DocType, k.Key.DocNo,
				now.UTC().Format(time.RFC3339Nano), now.UnixMilli())
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 1 {
				return err
			}
		}
		return errors.New("the Idempotency-Key's row kept changing while it was being stored")
	})
	if err != nil {
		return nil, fmt.Errorf("einvoice: store idempotency key: %w", err)
	}
	return prev, nil
}

// forgetKey frees an Idempotency-Key bound to bodySHA256, so its next use binds anew.
func (d *documents) forgetKey(ctx context.Context, key, bodySHA256 string) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM einvoice_idempotency_keys WHERE idem_key = $1 AND body_sha256 = $2`,
		key, bodySHA256)
	if err != nil {
		return fmt.Errorf("einvoice: free idempotency key: %w", err)
	}
	return nil
}

// keyCutoff is the created_unix_ms at and before which a key has expired at now.
func (d *documents) keyCutoff(now time.Time) int64 { return now.Add(-d.keyTTL).UnixMilli() }

// sweepKeys deletes the expired Idempotency-Keys and reports how many there were.
func (d *documents) sweepKeys(ctx context.Context) (int64, error) {
	res, err := d.db.ExecContext(ctx, `DELETE FROM einvoice_idempotency_keys WHERE created_unix_ms <= $1`,
		d.keyCutoff(d.now()))
	if err != nil {
		return 0, fmt.Errorf("einvoice: sweep idempotency keys: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("einvoice: sweep idempotency keys: %w", err)
	}
	return n, nil
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// infoJSON writes InfoDtls back in NIC's shape.
func infoJSON(info []irpclient.Info) []byte {
	type entry struct {
		InfCd string          `json:"InfCd"`
		Desc  json.RawMessage `json:"Desc"`
	}
	out := make([]entry, 0, len(info))
	for _, i := range info {
		desc := i.Raw
		if !json.Valid(desc) {
			desc, _ = json.Marshal(i.Text)
		}
		out = append(out, entry{InfCd: i.Code, Desc: desc})
	}
	b, err := json.Marshal(out)
	if err != nil {
		return []byte("[]")
	}
	return b
}

// list returns the registrations q asks for, newest AckDt first, one more than q.size when
// there are more: the columns a list shows, not the request or the signed data.
func (d *documents) list(ctx context.Context, q *listQuery) ([]*record, error) {
	query, args := listSQL(q)
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.Key.SellerGSTIN, &r.Key.FY, &r.Key.DocType, &r.Key.DocNo, &r.DocDate, &r.IRN, &r.IRP,
			&r.BuyerGSTIN, &r.TotInvVal, &r.State, &r.AckNo, &r.AckDt, &r.EwbNo, &r.LastError, &r.CancelDate); err != nil {
			return nil, err
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// unregistered returns the documents q asks for, the most recently written first, one more
// than q.size when there are more. The states are written into the query, so that a list
// of FAILED ones reads einvoice_documents_seller_failed (a partial index, which neither
// database uses for a bound parameter); PENDING ones, which no index holds, are found among
// the seller's rows.
func (d *documents) unregistered(ctx context.Context, q *unregisteredQuery) ([]*record, error) {
	states := `state = '` + q.states[0] + `'` // SQLite takes the index for "=", not for a one-value IN
	if len(q.states) > 1 {
		states = `state IN ('` + strings.Join(q.states, "', '") + `')`
	}
	query := `SELECT seller_gstin, fy, doc_type, doc_no, doc_date, irn, irp, buyer_gstin, tot_inv_val, state,
		last_error, updated_at FROM einvoice_documents WHERE seller_gstin = $1 AND ` + states
	args := []any{q.gstin, q.size + 1}
	if a := q.after; a != nil {
		query += ` AND (updated_at < $3 OR updated_at = $3 AND (fy, doc_type, doc_no) < ($4, $5, $6))`
		args = append(args, a.UpdatedAt, a.FY, a.DocType, a.DocNo)
	}
	query += ` ORDER BY updated_at DESC, fy DESC, doc_type DESC, doc_no DESC LIMIT $2`
	rows, err := d.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*record
	for rows.Next() {
		var r record
		if err := rows.Scan(&r.Key.SellerGSTIN, &r.Key.FY, &r.Key.DocType, &r.Key.DocNo, &r.DocDate, &r.IRN, &r.IRP,
			&r.BuyerGSTIN, &r.TotInvVal, &r.State, &r.LastError, &r.UpdatedAt); err != nil {
			return nil, err
		}
		out = append(out, &r)
	}
	return out, rows.Err()
}

// listSQL is list's query: every registered document of the seller that q selects,
// newest first, through einvoice_documents_seller_ack (which holds only rows with an
// AckDt, so the query says ack_dt <> ” for the database to use it).
func listSQL(q *listQuery) (string, []any) {
	var sb strings.Builder
	args := []any{q.gstin}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	sb.WriteString(`SELECT seller_gstin, fy, doc_type, doc_no, doc_date, irn, irp, buyer_gstin, tot_inv_val, state,
		ack_no, ack_dt, ewb_no, last_error, cancel_date FROM einvoice_documents WHERE seller_gstin = $1 AND ack_dt <> '' AND state IN (`)
	for i, st := range q.states {
		if i > 0 {
			sb.WriteString(", ")
		}
		sb.WriteString(arg(st))
	}
	sb.WriteString(")")
	if q.from != "" {
		sb.WriteString(" AND ack_dt >= " + arg(q.from))
	}
	if q.to != "" {
		sb.WriteString(" AND ack_dt <= " + arg(q.to))
	}
	if q.buyer != "" {
		sb.WriteString(" AND buyer_gstin = " + arg(q.buyer))
	}
	if q.docType != "" {
		sb.WriteString(" AND doc_type = " + arg(q.docType))
	}
	if q.openSince != "" {
		sb.WriteString(" AND ack_dt >= " + arg(q.openSince))
	}
	if q.after != nil {
		a, i := arg(q.after.AckDt), arg(q.after.IRN)
		sb.WriteString(" AND (ack_dt < " + a + " OR (ack_dt = " + a + " AND irn < " + i + "))")
	}
	sb.WriteString(" ORDER BY ack_dt DESC, irn DESC LIMIT " + arg(q.size+1))
	return sb.String(), args
}
