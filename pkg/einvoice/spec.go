package einvoice

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The schema rules of v1.1 live in the `nic` struct tags of invoice.go. They are compiled once
// into field specs shared by the decoder (JSON-level checks) and the validator (value checks),
// so the two can never disagree about a length or a range.
//
// Tag grammar (comma separated): req · len=min:max · empty (empty string allowed) · text (no `"`)
// · pat=<name> · enum=A|B · enumfold=A|B (case-insensitive) · num=min:max · int=min:max
// · items=min:max · nic=<code> (NIC code for the schema violation).

type fkind uint8

const (
	kStr fkind = iota
	kNum
	kInt
	kObj
	kPtr
	kSlice
)

type fieldSpec struct {
	name       string
	off        uintptr
	kind       fkind
	req        bool
	minLen     int
	maxLen     int
	allowEmpty bool
	text       bool
	pat        *pattern
	enum       []string
	fold       bool
	min, max   float64
	minS, maxS string
	minItems   int
	maxItems   int
	nic        string
	sub        *structSpec
	typ        reflect.Type // field type
}

type structSpec struct {
	typ    reflect.Type
	fields []fieldSpec
	index  map[string]int
}

func (ss *structSpec) lookup(key []byte) int {
	if i, ok := ss.index[string(key)]; ok {
		return i
	}
	// NIC matches keys case-insensitively (reference §10.6); so do we.
	for i := range ss.fields {
		if asciiEqualFold(ss.fields[i].name, key) {
			return i
		}
	}
	return -1
}

func asciiEqualFold(s string, b []byte) bool {
	if len(s) != len(b) {
		return false
	}
	for i := 0; i < len(b); i++ {
		c, d := s[i], b[i]
		if c == d {
			continue
		}
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

var invoiceSpec = compileSpec(reflect.TypeFor[Invoice](), map[reflect.Type]*structSpec{})

func compileSpec(t reflect.Type, seen map[reflect.Type]*structSpec) *structSpec {
	if ss, ok := seen[t]; ok {
		return ss
	}
	ss := &structSpec{typ: t, index: map[string]int{}}
	seen[t] = ss
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		fs := fieldSpec{name: name, off: sf.Offset, typ: sf.Type, maxItems: math.MaxInt}
		switch sf.Type.Kind() {
		case reflect.String:
			fs.kind = kStr
		case reflect.Float64:
			fs.kind = kNum
		case reflect.Int:
			fs.kind = kInt
		case reflect.Struct:
			fs.kind = kObj
			fs.sub = compileSpec(sf.Type, seen)
		case reflect.Pointer:
			fs.kind = kPtr
			fs.sub = compileSpec(sf.Type.Elem(), seen)
		case reflect.Slice:
			fs.kind = kSlice
			fs.sub = compileSpec(sf.Type.Elem(), seen)
		default:
			panic("einvoice: unsupported field kind " + sf.Type.String())
		}
		for opt := range strings.SplitSeq(sf.Tag.Get("nic"), ",") {
			k, v, _ := strings.Cut(opt, "=")
			lo, hi, _ := strings.Cut(v, ":")
			switch k {
			case "":
			case "req":
				fs.req = true
			case "len":
				fs.minLen, fs.maxLen = mustAtoi(lo), mustAtoi(hi)
			case "empty":
				fs.allowEmpty = true
			case "text":
				fs.text = true
			case "pat":
				fs.pat = patterns[v]
				if fs.pat == nil {
					panic("einvoice: unknown pattern " + v)
				}
			case "enum", "enumfold":
				fs.enum = strings.Split(v, "|")
				fs.fold = k == "enumfold"
			case "num", "int":
				fs.minS, fs.maxS = lo, hi
				fs.min, fs.max = mustFloat(lo), mustFloat(hi)
			case "items":
				fs.minItems, fs.maxItems = mustAtoi(lo), mustAtoi(hi)
			case "nic":
				fs.nic = v
			default:
				panic("einvoice: unknown nic tag option " + k)
			}
		}
		ss.index[name] = len(ss.fields)
		ss.fields = append(ss.fields, fs)
	}
	return ss
}

func mustAtoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		panic(err)
	}
	return n
}

func mustFloat(s string) float64 {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		panic(err)
	}
	return f
}

// pattern is a hand-written matcher for one schema regex (regexp would cost more than the rest of
// validation together); desc is what the message tells the user.
type pattern struct {
	match func(string) bool
	desc  string
}

var patterns = map[string]*pattern{
	"gstin":    {gstinShape, "2 digits followed by 13 upper-case letters or digits"},
	"gstinurp": {func(s string) bool { return s == "URP" || gstinShape(s) }, `a GSTIN (2 digits and 13 upper-case letters or digits) or "URP"`},
	"docno": {func(s string) bool {
		return len(s) >= 1 && (isAlpha(s[0]) || (s[0] >= '1' && s[0] <= '9')) && allBytes(s[1:], isDocNoByte)
	}, "letters, digits, '/' and '-' only, not starting with 0, '/' or '-'"},
	"precno": {func(s string) bool {
		return len(s) >= 2 && (isAlpha(s[0]) || (s[0] >= '1' && s[0] <= '9')) && allBytes(s[1:], isDocNoByte)
	}, "2–16 letters, digits, '/' and '-', not starting with 0, '/' or '-'"},
	"date":     {datePattern, "dd/MM/yyyy with a year from 2010 to 2029"},
	"stcd":     {stcdPattern, "a 1–2 digit state code other than 0"},
	"phone":    {func(s string) bool { return s != "" && allBytes(s, isDigit) }, "digits only"},
	"email":    {emailPattern, "an e-mail address (name@domain)"},
	"slno":     {func(s string) bool { return s != "" && allBytes(s, isDigit) }, "digits only"},
	"hsn":      {hsnPattern, "4, 6 or 8 digits, not all zero"},
	"unit":     {func(s string) bool { return s != "" && allBytes(s, isAlpha) }, "letters only"},
	"alpha":    {func(s string) bool { return s != "" && allBytes(s, isAlpha) }, "letters only"},
	"alnum":    {func(s string) bool { return s != "" && allBytes(s, isAlnum) }, "letters and digits only"},
	"upper2":   {func(s string) bool { return len(s) == 2 && allBytes(s, isUpper) }, "2 upper-case letters"},
	"transdoc": {func(s string) bool { return s != "" && allBytes(s, isDocNoByte) }, "letters, digits, '/' and '-' only"},
}

func datePattern(s string) bool {
	return len(s) == 10 && s[0] >= '0' && s[0] <= '3' && isDigit(s[1]) && s[2] == '/' &&
		(s[3] == '0' || s[3] == '1') && isDigit(s[4]) && s[5] == '/' && s[6] == '2' && s[7] == '0' &&
		s[8] >= '1' && s[8] <= '2' && isDigit(s[9])
}

func stcdPattern(s string) bool {
	switch len(s) {
	case 1:
		return s[0] >= '1' && s[0] <= '9'
	case 2:
		return isDigit(s[0]) && isDigit(s[1]) && s != "00"
	}
	return false
}

func hsnPattern(s string) bool {
	if (len(s) != 4 && len(s) != 6 && len(s) != 8) || !allBytes(s, isDigit) {
		return false
	}
	return strings.Trim(s, "0") != ""
}

func emailPattern(s string) bool {
	local, domain, ok := strings.Cut(s, "@")
	isLocal := func(c byte) bool { return isAlnum(c) || c == '+' || c == '_' || c == '.' || c == '-' }
	isDomain := func(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }
	return ok && local != "" && domain != "" && allBytes(local, isLocal) && allBytes(domain, isDomain)
}

func allBytes(s string, f func(byte) bool) bool {
	for i := 0; i < len(s); i++ {
		if !f(s[i]) {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool     { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isUpper(c byte) bool     { return c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool     { return isAlpha(c) || isDigit(c) }
func isDocNoByte(c byte) bool { return isAlnum(c) || c == '/' || c == '-' }

// checkString applies length, "no double quote", pattern and enum rules to a present value.
func checkString(r *report, fs *fieldSpec, p *path, s string) {
	n := len(s)
	if n >= utf8.RuneSelf || !isASCII(s) {
		n = utf8.RuneCountInString(s)
	}
	if n < fs.minLen || n > fs.maxLen {
		var rule string
		if fs.minLen == fs.maxLen {
			rule = fmt.Sprintf("must be exactly %d characters long, not %d", fs.minLen, n)
		} else {
			rule = fmt.Sprintf("must be %d to %d characters long, not %d", fs.minLen, fs.maxLen, n)
		}
		r.add(p.String(), ReasonInvalidLength, fs.nic, rule)
	}
	if fs.text && strings.IndexByte(s, '"') >= 0 {
		r.add(p.String(), ReasonInvalidFormat, fs.nic, `must not contain a double quote (")`)
	}
	if fs.pat != nil && !fs.pat.match(s) {
		r.add(p.String(), ReasonInvalidFormat, fs.nic, fmt.Sprintf("%q is invalid: must be %s", s, fs.pat.desc))
	}
	if fs.enum != nil && !inEnum(fs.enum, s, fs.fold) {
		r.add(p.String(), ReasonInvalidEnum, fs.nic, fmt.Sprintf("%q is invalid: must be one of %s", s, strings.Join(fs.enum, ", ")))
	}
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

func inEnum(enum []string, s string, fold bool) bool {
	for _, e := range enum {
		if e == s || (fold && strings.EqualFold(e, s)) {
			return true
		}
	}
	return false
}

func checkRange(r *report, fs *fieldSpec, p *path, f float64) {
	if f < fs.min || f > fs.max {
		r.add(p.String(), ReasonOutOfRange, fs.nic, fmt.Sprintf("%s is out of range: must be from %s to %s", fmtNum(f), fs.minS, fs.maxS))
	}
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }
