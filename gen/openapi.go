// Package gen holds the code and documents generated from proto/ by
// `make gen`. Only this file is written by hand: it embeds the OpenAPI
// document so the gateway can serve it.
package gen

import _ "embed"

// OpenAPI is the merged OpenAPI v2 document of every irpgate service.
//
//go:embed openapiv2/irpgate.swagger.json
var OpenAPI []byte
