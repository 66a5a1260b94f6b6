// Package sandboxtest starts the IRP sandbox on 127.0.0.1 for tests, with a manual clock and
// process-wide keys so that each Start takes milliseconds.
package sandboxtest
