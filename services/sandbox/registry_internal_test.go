package sandbox

import (
	"strings"
	"testing"
	"time"
)

// BenchmarkJournalLine is what the registry journal adds to a registration: one JSON line of
// the entry (a SignedInvoice and SignedQRCode of the usual size) written to the file.
func BenchmarkJournalLine(b *testing.B) {
	r := newRegistry(time.Now())
	if err := r.openJournal(b.TempDir(), nil); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.close() })
	e := &entry{Registration: Registration{
		Irn: strings.Repeat("a", 64), Instance: NIC1, SellerGSTIN: "29AWGPV7107B1Z1", BuyerGSTIN: "37ARZPT4384Q1MT",
		DocType: "INV", DocNo: "INV/2026-27/001", DocDate: "21/11/2026", TotInvVal: 1180, AckNo: 112600000000001,
		AckDt: time.Now(), Status: "ACT", SignedInvoice: strings.Repeat("x", 2800), SignedQRCode: strings.Repeat("y", 1100),
	}}
	b.ReportAllocs()
	for b.Loop() {
		r.mu.Lock()
		r.saveLocked(e)
		r.mu.Unlock()
	}
}
