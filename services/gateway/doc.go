// Package gateway is irpgate's REST face: a grpc-gateway mux over a real gRPC
// client connection, answering errors in the enriched-API envelope, and
// serving /openapi.json, /healthz and /metrics.
package gateway
