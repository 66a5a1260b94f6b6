package gateway

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/irpgate/irpgate/gen"
)

// route is one path template of the REST API and the methods it answers.
type route struct {
	re      *regexp.Regexp
	methods []string
}

// routes are the REST API's path templates, read from the OpenAPI document the
// routes were generated with.
var routes = sync.OnceValue(func() []route { return parseRoutes(gen.OpenAPI) })

// templateVar is a path variable of an OpenAPI path template: {name}.
var templateVar = regexp.MustCompile(`\{[^}]*\}`)

func parseRoutes(openAPI []byte) []route {
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	if json.Unmarshal(openAPI, &doc) != nil {
		return nil
	}
	var out []route
	for path, ops := range doc.Paths {
		// A variable matches one segment; one that ends the path may hold "/" (a document
		// number), but not a custom verb (":rotate").
		var b strings.Builder
		b.WriteString("^")
		rest := path
		for {
			loc := templateVar.FindStringIndex(rest)
			if loc == nil {
				b.WriteString(regexp.QuoteMeta(rest))
				break
			}
			b.WriteString(regexp.QuoteMeta(rest[:loc[0]]))
			if loc[1] < len(rest) {
				b.WriteString(`[^/]+`)
			} else {
				b.WriteString(`[^:]+`)
			}
			rest = rest[loc[1]:]
		}
		b.WriteString("$")
		r := route{re: regexp.MustCompile(b.String())}
		for m := range ops {
			r.methods = append(r.methods, strings.ToUpper(m))
		}
		out = append(out, r)
	}
	return out
}

// allowed lists the methods the REST API answers on path, for the Allow header of
// a 405.
func allowed(path string) string {
	var methods []string
	for _, r := range routes() {
		if r.re.MatchString(path) {
			methods = append(methods, r.methods...)
		}
	}
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}
