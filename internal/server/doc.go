// Package server assembles the irpgate roles (auth, einvoice, ewaybill,
// gstin, gateway, sandbox) chosen by --target into one running process, and
// takes them down gracefully.
package server
