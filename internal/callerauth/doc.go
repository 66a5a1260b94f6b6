// Package callerauth verifies, in every irpgate service, who is calling: the
// short-lived tokens auth issues for API keys and the service tokens the
// services present to one another, without a call to the auth service.
package callerauth
