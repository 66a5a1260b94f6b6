// Package sandbox is an offline IRP that speaks the NIC e-invoice protocol faithfully: the same
// paths, headers, envelopes, encryption, signatures and error codes as NIC's sandbox, with two IRP
// instances (NIC1, NIC2) sharing one IRN registry, an injectable clock and fault knobs for tests.
package sandbox
