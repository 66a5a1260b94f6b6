// Package irpcrypto implements the cryptography of the NIC IRP protocol: the
// AES-256-ECB session encryption (AppKey and SEK), the RSA PKCS#1 v1.5
// envelope of the auth request, and the RS256 JWS of SignedInvoice and
// SignedQRCode with their kid/x5t certificate thumbprints.
//
// Both ends of the protocol use it: pkg/irpclient and the sandbox IRP.
package irpcrypto
