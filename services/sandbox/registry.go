package sandbox

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
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

	journal *os.File // nil: in memory only
	log     *slog.Logger
}

// newRegistry starts the AckNo and EWB counters from the clock, so a sandbox started again
// (without a journal, or with one that lost its last lines) does not hand out numbers it gave
// before: the AckNo counter
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

// JournalFile is the file in Config.DataDir that keeps the registry across restarts.
const JournalFile = "registry.jsonl"

// journalLine is one answered registration as the journal keeps it.
type journalLine struct {
	Registration
	DocDateT    time.Time `json:"docDate"`
	HasGoods    bool      `json:"hasGoods,omitempty"`
	SellerPin   int       `json:"sellerPin,omitempty"`
	BuyerPin    int       `json:"buyerPin,omitempty"`
	DispatchPin int       `json:"dispatchPin,omitempty"`
	ShipPin     int       `json:"shipPin,omitempty"`
	EcoGSTIN    string    `json:"ecoGstin,omitempty"`
}

// openJournal makes the registry durable in dir, as a real IRP's is: every answered
// registration and every later change to it (cancel, e-way bill) is appended to
// dir/registry.jsonl as the whole entry, one JSON line, and read back here (the last line
// of an IRN wins). The file is then rewritten with one line per IRN, so it grows with the
// registrations, not with their changes. Lines are written without fsync: a machine crash
// may lose the last few, as if the IRP had never answered them.
func (r *registry) openJournal(dir string, log *slog.Logger) error {
	r.log = log
	path := filepath.Join(dir, JournalFile)
	if err := r.load(path); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	w := bufio.NewWriter(f)
	irns := make([]string, 0, len(r.byIRN))
	for irn := range r.byIRN {
		irns = append(irns, irn)
	}
	sort.Slice(irns, func(i, j int) bool { return r.byIRN[irns[i]].AckNo < r.byIRN[irns[j]].AckNo })
	for _, irn := range irns {
		line, err := marshalEntry(r.byIRN[irn])
		if err != nil {
			f.Close()
			return err
		}
		if _, err := w.Write(line); err != nil {
			f.Close()
			return fmt.Errorf("sandbox: registry journal: %w", err)
		}
	}
	if err := errors.Join(w.Flush(), f.Sync(), f.Close()); err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	r.journal, err = os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	return nil
}

// load reads the journal at path into the registry; a missing file is an empty registry.
// A line that does not parse (the torn end of a crash) ends the reading.
func (r *registry) load(path string) error {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		var l journalLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil || l.Irn == "" {
			r.log.Warn("the sandbox registry journal ends in a line that does not parse; it is dropped", "path", path, "line", n+1)
			break
		}
		n++
		r.restore(&l)
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("sandbox: registry journal: %w", err)
	}
	return nil
}

// restore puts a journal line into the maps, replacing the IRN's earlier line, and keeps the
// counters past the numbers it holds.
func (r *registry) restore(l *journalLine) {
	ready := make(chan struct{})
	close(ready)
	e := &entry{
		Registration: l.Registration, docDate: l.DocDateT, hasGoods: l.HasGoods,
		sellerPin: l.SellerPin, buyerPin: l.BuyerPin, dispatchPin: l.DispatchPin, shipPin: l.ShipPin,
		ecoGSTIN: l.EcoGSTIN, ready: ready,
	}
	if old, ok := r.byIRN[e.Irn]; ok {
		if old.EwbNo != 0 {
			delete(r.byEWB, old.EwbNo)
		}
		list := r.byBuyer[old.BuyerGSTIN]
		for i := range list {
			if list[i] == old {
				list[i] = e
			}
		}
	} else if e.BuyerGSTIN != "" && e.BuyerGSTIN != "URP" {
		r.byBuyer[e.BuyerGSTIN] = append(r.byBuyer[e.BuyerGSTIN], e)
	}
	r.byIRN[e.Irn] = e
	i := instIndex(e.Instance)
	r.ackSeq[i] = max(r.ackSeq[i], e.AckNo%100_000_000_000)
	if e.EwbNo != 0 {
		r.byEWB[e.EwbNo] = e
		j := instIndex(ewbInstance(e.EwbNo))
		r.ewbSeq[j] = max(r.ewbSeq[j], e.EwbNo%1_000_000_000)
	}
}

func marshalEntry(e *entry) ([]byte, error) {
	line, err := json.Marshal(journalLine{
		Registration: e.Registration, DocDateT: e.docDate, HasGoods: e.hasGoods,
		SellerPin: e.sellerPin, BuyerPin: e.buyerPin, DispatchPin: e.dispatchPin, ShipPin: e.shipPin,
		EcoGSTIN: e.ecoGSTIN,
	})
	return append(line, '\n'), err
}

// saveLocked appends e to the journal, if there is one. Called with r.mu held, so the lines
// of one IRN are written in the order of its changes. An entry not yet signed is not
// written: its registration has not been answered (the generate writes it once signed).
func (r *registry) saveLocked(e *entry) {
	if r.journal == nil || e.SignedInvoice == "" {
		return
	}
	line, err := marshalEntry(e)
	if err == nil {
		_, err = r.journal.Write(line)
	}
	if err != nil {
		r.log.Error("the sandbox could not write its registry journal; the registration is kept in memory only", "irn", e.Irn, "error", err)
	}
}

// close closes the journal.
func (r *registry) close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.journal == nil {
		return nil
	}
	err := r.journal.Close()
	r.journal = nil
	return err
}
