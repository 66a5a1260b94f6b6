// Package platform wires what every irpgate server shares: configuration
// from flags and IRPGATE_* variables, JSON logs with trace ids, OpenTelemetry
// traces and Prometheus metrics, gRPC servers and clients with one fixed
// interceptor order, health, and graceful shutdown.
package platform
