// Package storetest runs a test against every database backend irpgate supports, each on a
// fresh, isolated database.
package storetest
