// Package irpclient speaks NIC's e-invoice IRP protocol (auth, IRN, e-way bill
// by IRN, GSTIN masters) for any IRP base URL, with typed requests, typed
// errors, sessions supplied by the caller, safe retries and OpenTelemetry.
//
// Layout (STYLE point 14): IRP is the one interface every service codes
// against and *Client implements it. Each call is described once as a request
// and travels through a chain of exchangers, each concern in its own file:
//
//	tracing.go  one span per API call, named after the NIC API (otelhttp adds
//	            a child span per HTTP attempt)
//	metrics.go  latency histogram and error counter by NIC error code
//	sessions.go session lookup from the SessionSource; one replay after 1005
//	retry.go    exponential backoff with jitter where a retry is safe; turns
//	            a generate/cancel with an unknown outcome into ErrOutcomeUnknown
//	base.go     HTTP, headers, AES/SEK encryption and envelope decoding
//
// The decorators wrap a one-method interface (exchanger) rather than the
// twenty-method IRP interface: the concerns are per HTTP exchange, so
// wrapping each API method again in every decorator would only add
// boilerplate.
//
// Secrets (password, client secret, AppKey, SEK, AuthToken) never appear in
// errors, spans, metrics or logs: Credentials and Session redact themselves
// when printed or logged.
package irpclient
