package einvoice

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/irpgate/irpgate/internal/store"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Documents whose IRP outcome was still unknown when GenerateIrn gave up (every answer lost,
// or the caller gone mid-send) are settled in the background: SettlePending asks the IRP
// for the IRN a little later and stores the registration it finds, or marks the document
// FAILED when the IRP has none, so that it may be sent again. Nothing is re-sent: a caller
// who gave up may no longer want the document registered. The set lives in memory; when
// Run starts, it adds the documents a stopped process left pending (FindStalePending), so
// the hot path needs no index on the document state.

// staleAfter is how long a PENDING row must have been left alone before Run's start-up
// look takes it as abandoned (GenerateIrn's own retries end well within it).
const staleAfter = 2 * time.Minute

// irpRetention is how long the IRP answers a read of a registration: NIC's own pages say
// three days, its 2283 message and GSPs two (docs/decisions.md); the longer is taken. A
// PENDING row left longer cannot be settled by asking, so the start-up look leaves it
// (sending the document again settles it, with 2150; ListUnregisteredDocuments shows it).
const irpRetention = 72 * time.Hour

// settleOnStopTimeout bounds the settling round Run makes when it stops.
const settleOnStopTimeout = 10 * time.Second

// settleOnStop is a last settling round as the process stops (a rollout, an autoscaler's
// scale-down), so that the documents it remembers are not left PENDING until another
// process starts and finds them. What it cannot settle is logged with its count.
func (s *Service) settleOnStop(ctx context.Context) {
	if s.unsettled.len() == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), settleOnStopTimeout)
	defer cancel()
	n, err := s.SettlePending(ctx)
	if left := s.unsettled.len(); left > 0 {
		msg := "documents whose IRP outcome is unknown are left PENDING; the next einvoice process to start settles them, as does sending the same document again"
		attrs := []any{"settled", n, "left", left}
		if err != nil {
			attrs = append(attrs, "error", err.Error())
		}
		s.log.WarnContext(ctx, msg, attrs...)
	}
}

// maxUnsettled bounds the documents remembered for settling.
const maxUnsettled = 10000

// pendingCancel is a cancellation whose outcome was unknown when CancelIrn gave up.
type pendingCancel struct {
	reason, remark string
	at             string // when it was asked for (yyyy-MM-dd HH:mm:ss IST), the cancel date kept
}

type unsettledDoc struct {
	key    doc.DocKey
	cancel *pendingCancel // nil: a registration
	// stamp is the row's updated_at as the request that gave up left it ("" when not
	// known: a row found by FindStalePending, an answer not stored).
	stamp string
}

type unsettled struct {
	mu   sync.Mutex
	docs map[string]unsettledDoc
}

func (u *unsettled) add(d unsettledDoc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.docs == nil {
		u.docs = map[string]unsettledDoc{}
	}
	if len(u.docs) < maxUnsettled {
		u.docs[docKeyString(d.key)] = d
	}
}

func (u *unsettled) list() []unsettledDoc {
	u.mu.Lock()
	defer u.mu.Unlock()
	out := make([]unsettledDoc, 0, len(u.docs))
	for _, d := range u.docs {
		out = append(out, d)
	}
	return out
}

func (u *unsettled) len() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.docs)
}

// remove forgets d, unless the document has been remembered anew meanwhile.
func (u *unsettled) remove(d unsettledDoc) {
	u.mu.Lock()
	defer u.mu.Unlock()
	k := docKeyString(d.key)
	if cur, ok := u.docs[k]; ok && cur == d {
		delete(u.docs, k)
	}
}

// FindStalePending adds to the documents SettlePending asks about those left PENDING for
// longer than staleAfter (and not past the IRP's retention, irpRetention), for instance by
// a process that stopped mid-request. Run calls it
// when it starts, and once more staleAfter later for the rows of a process that died just
// before it started; a look that fails is made again at the next settle round. It reports
// how many it found.
func (s *Service) FindStalePending(ctx context.Context) (int, error) {
	now := s.now()
	keys, err := s.docs.stalePending(ctx, now.Add(-irpRetention), now.Add(-staleAfter), maxUnsettled)
	for _, k := range keys {
		s.unsettled.add(unsettledDoc{key: k})
	}
	return len(keys), err
}

// SettlePending asks the IRP about the documents GenerateIrn (or CancelIrn) left with an
// unknown outcome and stores what it learns. It reports how many it settled; the rest are
// asked about again on the next call. Run calls it every SettleInterval.
func (s *Service) SettlePending(ctx context.Context) (int, error) {
	n := 0
	var errs []error
	for _, d := range s.unsettled.list() {
		var done bool
		var err error
		if d.cancel != nil {
			done, err = s.settleCancel(ctx, d.key, d.cancel)
		} else {
			done, err = s.settle(ctx, d)
		}
		if done {
			s.unsettled.remove(d)
			s.settled.Add(ctx, 1)
			n++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("settle %s: %w", docKeyString(d.key), err))
		}
	}
	return n, errors.Join(errs...)
}

// lockedRecord takes the document's lock and reads its row, for settling. A nil record
// with a nil error means there is no row (nothing to settle); with a nil record the lock is
// not held, else the caller releases it with unlock.
func (s *Service) lockedRecord(ctx context.Context, k doc.DocKey) (rec *record, unlock func(), err error) {
	unlock, err = s.locks.lock(ctx, docKeyString(k))
	if err != nil {
		return nil, nil, err
	}
	rec, err = s.docs.byKey(ctx, s.cfg.DB, k)
	if err != nil {
		unlock()
		if store.IsNotFound(err) {
			err = nil
		}
		return nil, nil, err
	}
	return rec, unlock, nil
}

// settleCancel stores a cancellation the IRP made although its answer was lost. The IRP's
// record does not carry the cancel date; the time the cancellation was asked for is kept.
func (s *Service) settleCancel(ctx context.Context, k doc.DocKey, c *pendingCancel) (bool, error) {
	rec, unlock, err := s.lockedRecord(ctx, k)
	if rec == nil {
		return err == nil, err
	}
	defer unlock()
	if rec.State != stateActive && rec.State != stateUnverified {
		return true, nil // cancelled meanwhile, or not registered
	}
	det, err := s.irp.GetIRN(ctx, k.SellerGSTIN, rec.IRN, irpclient.WithIRP(rec.IRP))
	if d, ok := s.crossRead(ctx, rec, err); ok && d.Status == "CNL" {
		// Only a cancellation the other NIC IRP shows counts: its ACT may lag behind.
		det, err = d, nil
	}
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie):
		return true, nil // past the IRP's retention, or gone: nothing to learn
	case err != nil:
		return false, err
	case det.Status != "CNL":
		return true, nil // the cancellation did not happen; the row is right
	}
	if err := s.docs.markCancelled(ctx, rec.IRN, c.at, c.reason, c.remark); err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "settled a cancellation whose outcome was unknown", "irn", rec.IRN)
	return true, nil
}

// crossRead reads rec's IRN from the other NIC IRP, criss-cross, when err says rec's own
// IRP could not be reached, and reports whether it answered. The two replicate with a lag,
// so what it lacks proves nothing; only what it holds may settle a document.
func (s *Service) crossRead(ctx context.Context, rec *record, err error) (*irpclient.IRNDetails, bool) {
	if err == nil || ctx.Err() != nil || !unreached(err) {
		return nil, false
	}
	other := s.crossIRP(ctx, rec.IRP, rec.IRN)
	if other == "" {
		return nil, false
	}
	det, err := s.irp.GetIRN(ctx, rec.Key.SellerGSTIN, rec.IRN, irpclient.WithIRP(other), irpclient.WithCrissCross(rec.IRP))
	return det, err == nil
}

// settle reports whether the document d no longer needs asking about.
func (s *Service) settle(ctx context.Context, d unsettledDoc) (bool, error) {
	k := d.key
	rec, unlock, err := s.lockedRecord(ctx, k)
	if rec == nil {
		return err == nil, err
	}
	defer unlock()
	if rec.State != statePending {
		return true, nil // a later request has settled it
	}
	inv, _ := doc.Decode([]byte(rec.RequestJSON))
	if inv == nil {
		return true, errors.New("the stored request is not a document")
	}
	det, err := s.irp.GetIRN(ctx, k.SellerGSTIN, rec.IRN, irpclient.WithIRP(rec.IRP))
	if d, ok := s.crossRead(ctx, rec, err); ok {
		// Only a registration the other NIC IRP has counts: its "none" may lag behind.
		det, err = d, nil
	}
	var ie *irpclient.Error
	switch {
	case errors.As(err, &ie) && (ie.Has(codeIRNNotAvailable) || ie.Has(codeIRNNotFound)):
		// The IRP's word is final only if no request has taken the document since: one on
		// another replica may be sending it right now. A row left alone for staleAfter has
		// lost its sender too.
		if rec.UpdatedAt != d.stamp && !rec.leftSince(s.now().Add(-staleAfter)) {
			return false, nil
		}
		marked, err := s.docs.fail(ctx, k, "not registered at the IRP (asked after the outcome was unknown)", rec.UpdatedAt)
		if err != nil || !marked {
			return false, err // taken meanwhile: asked about again next round
		}
		s.log.InfoContext(ctx, "a document whose outcome was unknown is not registered at the IRP; it may be sent again",
			"irn", rec.IRN, "irp", rec.IRP)
		return true, nil
	case errors.As(err, &ie) && ie.Has(irpclient.CodeIRNTooOld):
		return true, nil // past the IRP's retention: sending the document again settles it (2150)
	case err != nil:
		return false, err
	}
	// Stored as registered, unverified or the IRP's own document; an error here is the
	// caller-facing status of that, or a failed write, which the row's state tells apart.
	_ = s.adoptOriginal(ctx, inv, det, rec.IRP)
	now, err := s.docs.byKey(ctx, s.cfg.DB, k)
	if err != nil {
		return false, err
	}
	s.log.InfoContext(ctx, "settled a document whose outcome was unknown", "irn", det.Irn, "ack_no", det.AckNo, "state", now.State)
	return now.State != statePending, nil
}
