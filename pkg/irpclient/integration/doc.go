// Package integration tests pkg/irpclient against the offline sandbox IRP
// (services/sandbox) over real HTTP: every API, every error family, the
// 1005 replay, retries on injected faults, "outcome unknown" on a lost
// answer and NIC1/NIC2 criss-cross routing.
package integration
