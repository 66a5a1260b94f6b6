// Package sessions supplies IRP sessions to the services that call the IRP,
// by asking the auth service over gRPC and caching each answer until shortly
// before it expires.
package sessions
