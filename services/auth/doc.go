// Package auth keeps the IRP credentials of every GSTIN encrypted, shares one
// IRP session per GSTIN and IRP between all services and replicas, and
// exchanges tenants' API keys for the signed tokens every service verifies.
package auth
