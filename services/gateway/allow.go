package gateway

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/irpgate/irpgate/gen"
)

// route is one path template of the REST API, the methods it answers and the query
// parameters each method takes.
type route struct {
	template string
	re       *regexp.Regexp
	methods  []string
	query    map[string]map[string]queryParam // method -> REST name -> parameter
}

// queryParam is a query parameter as the OpenAPI document describes it.
type queryParam struct {
	Name   string   `json:"name"`
	In     string   `json:"in"`
	Type   string   `json:"type"`
	Format string   `json:"format"`
	Enum   []string `json:"enum"`
}

// routes are the REST API's path templates, read from the OpenAPI document the
// routes were generated with.
var routes = sync.OnceValue(func() []route { return parseRoutes(gen.OpenAPI) })

// templateVar is a path variable of an OpenAPI path template: {name}.
var templateVar = regexp.MustCompile(`\{[^}]*\}`)

func parseRoutes(openAPI []byte) []route {
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []queryParam `json:"parameters"`
		} `json:"paths"`
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
		r := route{template: path, re: regexp.MustCompile(b.String()), query: map[string]map[string]queryParam{}}
		for m, op := range ops {
			m = strings.ToUpper(m)
			r.methods = append(r.methods, m)
			r.query[m] = map[string]queryParam{}
			for _, p := range op.Parameters {
				if p.In == "query" {
					r.query[m][p.Name] = p
				}
			}
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
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead) // headAsGet
	}
	slices.Sort(methods)
	return strings.Join(slices.Compact(methods), ", ")
}

// queryViolations checks a request's query string against the parameters its route takes:
// a name the route does not take is refused (grpc-gateway would drop it silently, so a
// misspelt `gstn=` would go unnoticed), and so is a value that is not of the parameter's
// type. Names are the OpenAPI (lowerCamel) ones; the proto (snake_case) spelling is
// accepted too, as grpc-gateway accepts it. Nil when the route is not known here (the
// mux answers 404/405).
func queryViolations(method, path string, q url.Values) []fieldViolation {
	var params map[string]queryParam
	var template string
	for _, r := range routes() {
		if p, ok := r.query[method]; ok && r.re.MatchString(path) {
			if params == nil {
				params, template = map[string]queryParam{}, r.template
			}
			maps.Copy(params, p)
		}
	}
	if params == nil {
		return nil
	}
	var out []fieldViolation
	for _, key := range slices.Sorted(maps.Keys(q)) {
		p, ok := params[key]
		if !ok {
			p, ok = params[lowerCamel(key)]
		}
		if !ok {
			takes := "it takes none"
			if len(params) > 0 {
				takes = "it takes " + strings.Join(slices.Sorted(maps.Keys(params)), ", ")
			}
			out = append(out, fieldViolation{
				key, "UNKNOWN_FIELD",
				fmt.Sprintf("%s is not a query parameter of %s %s (%s)", key, method, template, takes),
			})
			continue
		}
		vals := q[key]
		if len(vals) > 1 {
			out = append(out, fieldViolation{p.Name, "INVALID_TYPE", fmt.Sprintf("%s is given %d times; it takes one value", p.Name, len(vals))})
			continue
		}
		if reason, rule := p.check(vals[0]); reason != "" {
			out = append(out, fieldViolation{p.Name, reason, p.Name + " " + rule})
		}
	}
	return out
}

// check returns the reason and the broken rule when v is not of the parameter's type.
func (p queryParam) check(v string) (reason, rule string) {
	switch p.Type {
	case "boolean":
		if _, err := strconv.ParseBool(v); err != nil {
			return "INVALID_TYPE", fmt.Sprintf("must be true or false, not %q", v)
		}
	case "integer":
		bits := 64
		if p.Format == "int32" {
			bits = 32
		}
		if _, err := strconv.ParseInt(v, 10, bits); err != nil {
			return "INVALID_TYPE", fmt.Sprintf("must be a whole number (%d-bit), not %q", bits, v)
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, v) {
		return "INVALID_ENUM", fmt.Sprintf("must be one of %s, not %q", strings.Join(p.Enum, ", "), v)
	}
	return "", ""
}

// lowerCamel is the JSON name protoc gives a snake_case field: doc_date -> docDate.
func lowerCamel(s string) string {
	var b strings.Builder
	up := false
	for _, c := range s {
		switch {
		case c == '_':
			up = true
		case up:
			b.WriteString(strings.ToUpper(string(c)))
			up = false
		default:
			b.WriteRune(c)
		}
	}
	return b.String()
}

// fieldViolation is one entry of the envelope's errors list.
type fieldViolation struct{ Field, Reason, Message string }
