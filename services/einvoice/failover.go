package einvoice

import (
	"context"
	"sync"
	"time"

	errorsv1 "github.com/irpgate/irpgate/gen/go/irpgate/errors/v1"
	"github.com/irpgate/irpgate/internal/platform"
	doc "github.com/irpgate/irpgate/pkg/einvoice"
	"github.com/irpgate/irpgate/pkg/irpclient"
)

// Failover between NIC's two IRPs (docs/decisions.md §11). A document that this request
// claimed and that no attempt can have reached goes to the other NIC IRP once its own has
// been unreachable twice in a row, and for failoverFor after that new documents start on
// the other one. A document that may have reached an IRP stays there: the two replicate
// their registries with a lag, so sending it to the other could register it twice. A
// cancellation follows the same rule, sent to the other IRP criss-cross (crossIRP).

// failoverAfter is how many attempts in a row must fail to reach an IRP before a document
// goes to the other.
const failoverAfter = 2

// failoverFor is how long new documents avoid an IRP found unreachable.
const failoverFor = 30 * time.Second

// irpHealth remembers until when each IRP counts as unreachable.
type irpHealth struct {
	mu   sync.Mutex
	down map[string]time.Time
}

func (h *irpHealth) markDown(irp string, until time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down == nil {
		h.down = map[string]time.Time{}
	}
	h.down[irp] = until
}

func (h *irpHealth) markUp(irp string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.down, irp)
}

func (h *irpHealth) isDown(irp string, now time.Time) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return now.Before(h.down[irp])
}

// otherIRP is the NIC IRP that is not irp, when failover is on and both are configured.
func (s *Service) otherIRP(irp string) string {
	if !s.cfg.Failover {
		return ""
	}
	other := map[string]string{irpclient.NIC1: irpclient.NIC2, irpclient.NIC2: irpclient.NIC1}[irp]
	for _, known := range s.irp.IRPs() {
		if other != "" && known == other {
			return other
		}
	}
	return ""
}

// startIRP is the IRP a new document that names none starts on: the default, unless it
// was found unreachable lately and the other NIC IRP was not.
func (s *Service) startIRP(irp string) string {
	now := s.now()
	if other := s.otherIRP(irp); other != "" && s.health.isDown(irp, now) && !s.health.isDown(other, now) {
		return other
	}
	return irp
}

// unreached reports whether err says the document did not reach the IRP: the connection
// failed before the request was written, the IRP turned it away unread (a 4xx without NIC's
// envelope: irpclient marks every other failure after sending an unknown outcome), or no
// session could be had because the IRP did not answer its authentication.
func unreached(err error) bool {
	if irpclient.IsTransport(err) && !irpclient.IsOutcomeUnknown(err) {
		return true
	}
	return platform.ReasonOf(err) == errorsv1.ErrorReason_ERROR_REASON_IRP_UNAVAILABLE
}

// countMiss is misses after an attempt that failed with err: one more when the attempt did
// not reach the IRP, enough to fail over when auth could not open a session there (it has
// retried already), none when the IRP may have seen it.
func countMiss(misses int, err error) int {
	switch {
	case !unreached(err):
		return 0
	case irpclient.IsTransport(err):
		return misses + 1
	default:
		return failoverAfter
	}
}

// crossIRP is the IRP a call about an IRN of irp goes to instead, irp having not been
// reached: the other NIC IRP, asked "criss-cross" (its irp header naming irp), as NIC lets
// either IRP act on the other's IRNs. "" when there is none.
func (s *Service) crossIRP(ctx context.Context, irp, irn string) string {
	other := s.otherIRP(irp)
	if other == "" || s.health.isDown(other, s.now()) {
		return ""
	}
	s.health.markDown(irp, s.now().Add(failoverFor))
	s.failovers.Add(ctx, 1)
	attrs := []any{"from", irp, "to", other}
	if irn != "" { // a read by document details knows no IRN yet
		attrs = append(attrs, "irn", irn)
	}
	s.log.WarnContext(ctx, "IRP unreachable; asking the other NIC IRP criss-cross", attrs...)
	return other
}

// readIRN reads a registration from irp with read, and from the other NIC IRP criss-cross
// when irp cannot be reached: a read changes nothing, so it may go anywhere.
func (s *Service) readIRN(ctx context.Context, irp, irn string, read func(...irpclient.CallOption) (*irpclient.IRNDetails, error)) (*irpclient.IRNDetails, error) {
	det, err := read(irpclient.WithIRP(irp))
	if err == nil || ctx.Err() != nil || !unreached(err) {
		return det, err
	}
	if other := s.crossIRP(ctx, irp, irn); other != "" {
		return read(irpclient.WithIRP(other), irpclient.WithCrissCross(irp))
	}
	return det, err
}

// failover moves a claimed document that never reached irp to the other NIC IRP: the row
// names the new IRP before anything is sent there, so a lost answer is settled with the
// right one. It returns the new IRP and the row's new stamp, or "" when there is none to
// move to or the row is no longer as this request wrote it at stamp.
func (s *Service) failover(ctx context.Context, k doc.DocKey, irp, stamp string) (other, moved string) {
	other = s.otherIRP(irp)
	if other == "" || s.health.isDown(other, s.now()) {
		return "", ""
	}
	s.health.markDown(irp, s.now().Add(failoverFor))
	pctx, cancel := persistContext(ctx)
	defer cancel()
	moved, err := s.docs.moveIRP(pctx, k, other, stamp)
	if err != nil {
		s.log.WarnContext(ctx, "could not move a document to the other IRP; it stays on its own", "irp", irp, "error", err.Error())
		return "", ""
	}
	s.failovers.Add(ctx, 1)
	s.log.WarnContext(ctx, "IRP unreachable; the document goes to the other NIC IRP", "from", irp, "to", other)
	return other, moved
}

// ProbeIRPs asks each configured IRP's heartbeat once: an IRP that does not answer counts
// as unreachable for failoverFor (new documents start on the other NIC IRP, and none moves
// to it), one that answers as reachable again. Run calls it every ProbeInterval.
func (s *Service) ProbeIRPs(ctx context.Context) {
	for _, irp := range s.irp.IRPs() {
		pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.irp.Health(pctx, irp)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			if !s.health.isDown(irp, s.now()) {
				s.log.WarnContext(ctx, "the IRP's heartbeat did not answer", "irp", irp, "error", err.Error())
			}
			s.health.markDown(irp, s.now().Add(failoverFor))
		default:
			s.health.markUp(irp)
		}
	}
}
