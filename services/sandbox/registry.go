package sandbox

import (
	"sync"
	"time"
)

// entry is a registration plus what the IRP needs later for an e-way bill.
type entry struct {
	Registration
	docDate              time.Time
	hasGoods             bool
	sellerPin, buyerPin  int
	dispatchPin, shipPin int
	ecoGSTIN             string
	ready                chan struct{} // closed once signed
}

// registry is the IRN table shared by NIC1 and NIC2. One mutex: the work under it is a map
// look-up and an insert; validation and signing happen outside.
type registry struct {
	mu      sync.RWMutex
	byIRN   map[string]*entry
	byEWB   map[int64]*entry
	byBuyer map[string][]*entry
	ackSeq  [2]int64
	ewbSeq  [2]int64
}

// newRegistry starts the AckNo and EWB counters from the clock, so a sandbox started again
// (its registry is in memory) does not hand out numbers it gave before: the AckNo counter
// at the milliseconds since the start of the IST year (the year is in the AckNo), the EWB
// counter at 30 a second since 2024. Both then count one per registration, which the
// clock outruns unless a run sustains 1,000 registrations (30 e-way bills) a second.
func newRegistry(now time.Time) *registry {
	r := &registry{byIRN: map[string]*entry{}, byEWB: map[int64]*entry{}, byBuyer: map[string][]*entry{}}
	ist := now.In(IST)
	yearStart := time.Date(ist.Year(), 1, 1, 0, 0, 0, 0, IST)
	epoch := time.Date(2024, 1, 1, 0, 0, 0, 0, IST)
	for i := range r.ackSeq {
		r.ackSeq[i] = now.Sub(yearStart).Milliseconds()
		r.ewbSeq[i] = int64(now.Sub(epoch).Seconds()) * 30 % 1_000_000_000
	}
	return r
}

func instIndex(inst string) int {
	if inst == NIC2 {
		return 1
	}
	return 0
}

// nextAckNo makes a 15-digit AckNo: instance (1/2), 1, two-digit year, 11-digit counter.
// Called with r.mu held.
func (r *registry) nextAckNo(inst string, at time.Time) int64 {
	i := instIndex(inst)
	r.ackSeq[i]++
	yy := int64(at.In(IST).Year() % 100)
	return int64(i+1)*100_000_000_000_000 + 10_000_000_000_000 + yy*100_000_000_000 + r.ackSeq[i]%100_000_000_000
}

// nextEwbNo makes a 12-digit EWB number: 301… on NIC1, 391… on NIC2. Called with r.mu held.
func (r *registry) nextEwbNo(inst string) int64 {
	i := instIndex(inst)
	r.ewbSeq[i]++
	return 300_000_000_000 + int64(i)*90_000_000_000 + 1_000_000_000 + r.ewbSeq[i]%1_000_000_000
}

func ewbInstance(no int64) string {
	if (no/10_000_000_000)%10 == 9 {
		return NIC2
	}
	return NIC1
}

// reserve registers e unless its IRN exists; then it returns the existing entry.
func (r *registry) reserve(e *entry) (*entry, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if cur, ok := r.byIRN[e.Irn]; ok {
		return cur, false
	}
	e.AckNo = r.nextAckNo(e.Instance, e.AckDt)
	r.byIRN[e.Irn] = e
	if e.BuyerGSTIN != "" && e.BuyerGSTIN != "URP" {
		r.byBuyer[e.BuyerGSTIN] = append(r.byBuyer[e.BuyerGSTIN], e)
	}
	return e, true
}

func (r *registry) get(irn string) *entry {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.byIRN[irn]
}

func (r *registry) snapshot(e *entry) Registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return e.Registration
}

func (r *registry) all() []Registration {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]Registration, 0, len(r.byIRN))
	for _, e := range r.byIRN {
		out = append(out, e.Registration)
	}
	return out
}
