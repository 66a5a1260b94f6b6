package einvoice

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"github.com/stretchr/testify/require"
)

// The JSON Schema in testdata is our own reading of v1.1, written apart from the struct tags; these
// tests require our validator and santhosh-tekuri/jsonschema to find schema problems at exactly the
// same JSON locations, for the corpus and for any mutation of it.

var oracle = sync.OnceValues(func() (*jsonschema.Schema, error) {
	f, err := os.Open("testdata/einvoice-v1.1.schema.json")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		return nil, err
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("einvoice.json", doc); err != nil {
		return nil, err
	}
	return c.Compile("einvoice.json")
})

// knownNames maps lower-case NIC names to their spelling, for canonicalising key case (the JSON
// Schema is case-sensitive; NIC and we are not).
var knownNames = func() map[string]string {
	m := map[string]string{}
	var walkSpec func(ss *structSpec)
	seen := map[*structSpec]bool{}
	walkSpec = func(ss *structSpec) {
		if seen[ss] {
			return
		}
		seen[ss] = true
		for _, f := range ss.fields {
			m[strings.ToLower(f.name)] = f.name
			if f.sub != nil {
				walkSpec(f.sub)
			}
		}
	}
	walkSpec(invoiceSpec)
	return m
}()

// canonical rewrites v in place: NIC keys get NIC's spelling, other keys become UnknownN (so a fuzzed
// key cannot break path syntax). ok=false when the input cannot be compared fairly: two spellings of
// one key (order lost in a map), or a number whose exponent would make big.Rat crawl.
func canonical(v any) (any, bool) {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make(map[string]any, len(x))
		unknown := 0
		for _, k := range keys {
			name, known := knownNames[strings.ToLower(k)]
			if !known {
				unknown++
				name = "Unknown" + strconv.Itoa(unknown)
			}
			if _, dup := out[name]; dup {
				return nil, false
			}
			c, ok := canonical(x[k])
			if !ok {
				return nil, false
			}
			out[name] = c
		}
		return out, true
	case []any:
		for i := range x {
			c, ok := canonical(x[i])
			if !ok {
				return nil, false
			}
			x[i] = c
		}
		return x, true
	case json.Number:
		s := strings.ToLower(string(x))
		if i := strings.IndexByte(s, 'e'); i >= 0 && len(strings.TrimLeft(s[i+1:], "+-0")) > 3 {
			return nil, false
		}
		return x, true
	}
	return v, true
}

func ourSchemaLocations(data []byte) (invalidJSON bool, locs []string) {
	_, err := Check(data, testOpts)
	var ve *ValidationError
	if err == nil {
		return false, nil
	}
	if !errors.As(err, &ve) {
		panic(err)
	}
	for _, v := range ve.Violations {
		if v.Reason == ReasonInvalidJSON {
			return true, nil
		}
		if IsSchemaReason(v.Reason) {
			locs = append(locs, fieldPointer(v.Field))
		}
	}
	slices.Sort(locs)
	return false, slices.Compact(locs)
}

// fieldPointer turns "ItemList[3] -> GstRt" into "/ItemList/3/GstRt".
func fieldPointer(f string) string {
	if f == "" {
		return ""
	}
	var b strings.Builder
	for seg := range strings.SplitSeq(f, " -> ") {
		name, idx, _ := strings.Cut(seg, "[")
		b.WriteString("/" + name)
		if idx != "" {
			b.WriteString("/" + strings.TrimSuffix(idx, "]"))
		}
	}
	return b.String()
}

func oracleLocations(t testing.TB, data []byte) []string {
	sch, err := oracle()
	require.NoError(t, err)
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	require.NoError(t, err)
	err = sch.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	require.ErrorAs(t, err, &ve)
	var locs []string
	var leaves func(e *jsonschema.ValidationError)
	leaves = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				leaves(c)
			}
			return
		}
		base := ""
		for _, tok := range e.InstanceLocation {
			base += "/" + tok
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				locs = append(locs, base+"/"+m)
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				locs = append(locs, base+"/"+p)
			}
		default:
			locs = append(locs, base)
		}
	}
	leaves(ve)
	slices.Sort(locs)
	return slices.Compact(locs)
}

// agree checks one input; it never lets either side panic unnoticed.
func agree(t testing.TB, raw []byte) {
	t.Helper()
	if !json.Valid(raw) {
		bad, _ := ourSchemaLocations(raw)
		require.True(t, bad, "encoding/json rejects %q but we do not report INVALID_JSON", raw)
		return
	}
	var v any
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	require.NoError(t, d.Decode(&v))
	v, ok := canonical(v)
	if !ok {
		_, _ = Check(raw, testOpts) // must still not panic; whatever it answers is not compared
		return
	}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	bad, ours := ourSchemaLocations(data)
	require.False(t, bad, "valid JSON reported as invalid: %s", data)
	theirs := oracleLocations(t, data)
	require.Equal(t, theirs, ours, "schema verdicts differ for %s", data)
}

// mutate applies one structural change to node number pick of the parsed document.
func mutate(v any, pick int, op uint8, val string) any {
	n := 0
	var rec func(v any) any
	repl := func(old any) any {
		switch op % 10 {
		case 0:
			return nil // null
		case 1:
			return val
		case 2:
			if json.Valid([]byte(val)) {
				var x any
				d := json.NewDecoder(strings.NewReader(val))
				d.UseNumber()
				if d.Decode(&x) == nil {
					return x
				}
			}
			return json.Number(strconv.Itoa(len(val)))
		case 3:
			return ""
		case 4:
			return map[string]any{}
		case 5:
			return []any{}
		case 6:
			return strings.Repeat("9", 1+len(val)%20)
		case 7:
			return json.Number("-" + strconv.Itoa(len(val)))
		case 8:
			return true
		}
		return old
	}
	rec = func(v any) any {
		switch x := v.(type) {
		case map[string]any:
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if n == pick {
					n++
					if op%10 == 9 {
						delete(x, k)
						if val != "" {
							x[val] = json.Number("1")
						}
					} else {
						x[k] = repl(x[k])
					}
					return x
				}
				n++
				x[k] = rec(x[k])
			}
		case []any:
			for i := range x {
				if n == pick {
					n++
					if op%10 == 9 {
						return append(x, x[i])
					}
					x[i] = repl(x[i])
					return x
				}
				n++
				x[i] = rec(x[i])
			}
		}
		return v
	}
	return rec(v)
}

func mutated(doc []byte, pick uint16, op uint8, val string) []byte {
	var v any
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	if d.Decode(&v) != nil {
		return doc
	}
	out, err := json.Marshal(mutate(v, int(pick), op, val))
	if err != nil {
		return doc
	}
	return out
}

func TestSchemaOracleAgreesOnCorpus(t *testing.T) {
	for name, data := range corpusFiles(t) {
		t.Run(name, func(t *testing.T) {
			require.Empty(t, oracleLocations(t, data))
			agree(t, data)
		})
	}
}

// TestSchemaOracleAgreesOnMutations walks every node of two corpus documents through each kind of
// mutation: a deterministic slice of what the fuzz target explores.
func TestSchemaOracleAgreesOnMutations(t *testing.T) {
	files := corpusFiles(t)
	for _, name := range []string{"b2b_inter_services_inv.json", "expwp_ewb_inv.json"} {
		data := files[name]
		for pick := uint16(0); pick < 200; pick++ {
			for op := uint8(0); op < 10; op++ {
				agree(t, mutated(data, pick, op, fmt.Sprintf("x%d", pick)))
			}
		}
	}
}

func FuzzSchemaAgreement(f *testing.F) {
	for _, data := range corpusFiles(f) {
		f.Add(data, uint16(0), uint8(0), "")
	}
	f.Add([]byte(`{"Version":"1.1","ItemList":[{"SlNo":"01","Qty":1e400}]}`), uint16(3), uint8(2), "1e-3")
	f.Add([]byte(`{"version":"1.1","itemlist":null,"ValDtls":{"AssVal":"1"}}`), uint16(1), uint8(3), "")
	f.Add([]byte(`[{"Version":1}]`), uint16(0), uint8(1), `"`)
	f.Fuzz(func(t *testing.T, doc []byte, pick uint16, op uint8, val string) {
		agree(t, doc)
		agree(t, mutated(doc, pick, op, val))
	})
}
