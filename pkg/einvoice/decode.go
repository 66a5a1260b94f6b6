package einvoice

import (
	"bytes"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// decoder is a single-pass JSON reader that fills an Invoice through the compiled field specs.
// Unlike encoding/json it keeps going after a type error or an unknown field, so every such problem
// is reported at once, and it knows which required numbers were absent (not merely zero).
type decoder struct {
	data  []byte
	pos   int
	r     *report
	depth int
	fatal bool // syntax error: stop
	buf   []byte
}

const maxDepth = 10000 // encoding/json's nesting limit, so both sides reject the same inputs

func decodeInvoice(data []byte, r *report) *Invoice {
	inv := &Invoice{}
	d := &decoder{data: data, r: r}
	if bytes.HasPrefix(data, utf8BOM) {
		// Windows tools write one; RFC 8259 §8.1 lets a parser ignore it. Positions in
		// errors stay those of data.
		d.pos = len(utf8BOM)
	}
	d.skipWS()
	if d.pos >= len(d.data) {
		d.syntax("the document is empty")
		return inv
	}
	if d.data[d.pos] != '{' {
		if d.skipValue() && !d.fatal {
			r.add("", ReasonInvalidType, "", "the document must be a JSON object")
		}
	} else {
		d.object(invoiceSpec, unsafe.Pointer(inv), path{})
	}
	if d.fatal {
		return inv
	}
	d.skipWS()
	if d.pos < len(d.data) {
		d.syntax("unexpected " + byteName(d.data[d.pos]) + " after the document")
	}
	return inv
}

func (d *decoder) syntax(msg string) {
	if d.fatal {
		return
	}
	d.fatal = true
	d.r.add("", ReasonInvalidJSON, "", fmt.Sprintf("the request is not valid JSON at byte %d: %s", d.pos, msg))
}

func (d *decoder) skipWS() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

// object decodes {...} at d.pos into the struct at base.
func (d *decoder) object(ss *structSpec, base unsafe.Pointer, p path) {
	d.depth++
	if d.depth > maxDepth {
		d.syntax("nested too deeply")
		return
	}
	defer func() { d.depth-- }()
	d.pos++ // '{'
	var seen uint64
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
	} else {
		for {
			d.skipWS()
			if d.pos >= len(d.data) || d.data[d.pos] != '"' {
				d.syntax("expected a quoted field name")
				return
			}
			key, ok := d.str()
			if !ok {
				return
			}
			d.skipWS()
			if d.pos >= len(d.data) || d.data[d.pos] != ':' {
				d.syntax("expected ':' after a field name")
				return
			}
			d.pos++
			d.skipWS()
			if d.pos >= len(d.data) {
				d.syntax("unexpected end of input")
				return
			}
			if i := ss.lookup(key); i >= 0 {
				fs := &ss.fields[i]
				if seen&(1<<uint(i)) != 0 {
					// Which of the two values a reader keeps is not defined (RFC 8259 §4); the IRP's
					// may keep another than ours, so what we validated would not be what it registers.
					if d.skipValue() {
						d.r.add(p.field(fs.name).String(), ReasonDuplicateField, "",
							fmt.Sprintf("appears more than once (as %q again); field names are matched without regard to case, and each may appear once", key))
					}
				} else {
					seen |= 1 << uint(i)
					d.field(fs, unsafe.Add(base, fs.off), p.field(fs.name))
				}
			} else {
				name := string(key)
				if d.skipValue() {
					d.r.add(p.field(name).String(), ReasonUnknownField, "", "is not a field of e-invoice schema v1.1")
				}
			}
			if d.fatal {
				return
			}
			d.skipWS()
			if d.pos >= len(d.data) {
				d.syntax("unexpected end of input in an object")
				return
			}
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == '}' {
				d.pos++
				break
			}
			d.syntax("expected ',' or '}' in an object")
			return
		}
	}
	// Required strings that are absent stay "" and are reported by the validator; here we catch
	// what the Go value cannot tell: an absent required number, object or array.
	for i := range ss.fields {
		fs := &ss.fields[i]
		if fs.req && fs.kind != kStr && seen&(1<<uint(i)) == 0 {
			d.r.add(p.field(fs.name).String(), ReasonRequired, requiredNIC(fs), "is required")
		}
	}
}

func requiredNIC(fs *fieldSpec) string {
	if fs.name == "ItemList" {
		return "2228"
	}
	return fs.nic
}

var jsonKindName = [...]string{kStr: "a string", kNum: "a number", kInt: "an integer", kObj: "an object", kPtr: "an object", kSlice: "an array"}

func (d *decoder) typeError(fs *fieldSpec, p path, got string) {
	d.r.add(p.String(), ReasonInvalidType, fs.nic, fmt.Sprintf("must be %s, not %s", jsonKindName[fs.kind], got))
}

func (d *decoder) field(fs *fieldSpec, ptr unsafe.Pointer, p path) {
	c := d.data[d.pos]
	if c == 'n' {
		if !d.literal("null") {
			return
		}
		// null is "absent" for an optional field (as NIC's deserializer treats it); a required field
		// must carry a value.
		if fs.req {
			d.typeError(fs, p, "null")
		}
		return
	}
	switch fs.kind {
	case kStr:
		if c != '"' {
			d.mismatch(fs, p)
			return
		}
		b, ok := d.str()
		if !ok {
			return
		}
		if len(b) == 0 {
			if !fs.req && !fs.allowEmpty {
				d.r.add(p.String(), ReasonInvalidLength, fs.nic, fmt.Sprintf("must be %d to %d characters long, not empty (leave it out instead)", fs.minLen, fs.maxLen))
			}
			*(*string)(ptr) = ""
			return
		}
		*(*string)(ptr) = string(b)
	case kNum, kInt:
		if c != '-' && (c < '0' || c > '9') {
			d.mismatch(fs, p)
			return
		}
		lit, ok := d.number()
		if !ok {
			return
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(lit), len(lit)), 64)
		if err != nil && !math.IsInf(f, 0) {
			d.syntax("bad number")
			return
		}
		if outOfRangeExact(f, lit, fs) {
			d.r.add(p.String(), ReasonOutOfRange, fs.nic, fmt.Sprintf("%s is out of range: must be from %s to %s", lit, fs.minS, fs.maxS))
			return
		}
		if fs.kind == kInt && !isIntegerLiteral(lit) {
			d.r.add(p.String(), ReasonInvalidType, fs.nic, fmt.Sprintf("must be a whole number, not %s", lit))
			return
		}
		if fs.kind == kInt {
			*(*int)(ptr) = int(f)
		} else {
			*(*float64)(ptr) = f
		}
	case kObj:
		if c != '{' {
			d.mismatch(fs, p)
			return
		}
		d.object(fs.sub, ptr, p)
	case kPtr:
		if c != '{' {
			d.mismatch(fs, p)
			return
		}
		v := reflect.New(fs.sub.typ)
		*(*unsafe.Pointer)(ptr) = v.UnsafePointer()
		d.object(fs.sub, v.UnsafePointer(), p)
	case kSlice:
		if c != '[' {
			d.mismatch(fs, p)
			return
		}
		d.array(fs, ptr, p)
	}
}

// mismatch reports a value of the wrong JSON type and skips it.
func (d *decoder) mismatch(fs *fieldSpec, p path) {
	got := "a value"
	switch c := d.data[d.pos]; {
	case c == '"':
		got = "a string"
	case c == '{':
		got = "an object"
	case c == '[':
		got = "an array"
	case c == 't' || c == 'f':
		got = "a boolean"
	case c == '-' || (c >= '0' && c <= '9'):
		got = "a number"
	}
	if d.skipValue() {
		d.typeError(fs, p, got)
	}
}

func (d *decoder) array(fs *fieldSpec, ptr unsafe.Pointer, p path) {
	d.depth++
	if d.depth > maxDepth {
		d.syntax("nested too deeply")
		return
	}
	defer func() { d.depth-- }()
	d.pos++ // '['
	sv := reflect.NewAt(fs.typ, ptr).Elem()
	sv.Set(reflect.MakeSlice(fs.typ, 0, 0)) // present, even if empty: distinct from absent (nil)
	d.skipWS()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return
	}
	for n := 0; ; n++ {
		d.skipWS()
		if d.pos >= len(d.data) {
			d.syntax("unexpected end of input in an array")
			return
		}
		ep := p.index(n)
		if sv.Len() == sv.Cap() {
			sv.Grow(max(4, sv.Cap()))
		}
		sv.SetLen(n + 1) // a bad element leaves an empty one so indexes match the JSON array
		if d.data[d.pos] == '{' {
			d.object(fs.sub, sv.Index(n).Addr().UnsafePointer(), ep)
		} else {
			if !d.skipValue() {
				return
			}
			d.r.add(ep.String(), ReasonInvalidType, "", "must be an object")
		}
		if d.fatal {
			return
		}
		d.skipWS()
		if d.pos >= len(d.data) {
			d.syntax("unexpected end of input in an array")
			return
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
		case ']':
			d.pos++
			return
		default:
			d.syntax("expected ',' or ']' in an array")
			return
		}
	}
}

func (d *decoder) literal(lit string) bool {
	if len(d.data)-d.pos < len(lit) || string(d.data[d.pos:d.pos+len(lit)]) != lit {
		d.syntax("invalid literal")
		return false
	}
	d.pos += len(lit)
	return true
}

// number scans a JSON number per RFC 8259 and returns its literal.
func (d *decoder) number() ([]byte, bool) {
	start := d.pos
	i := d.pos
	data := d.data
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case i < len(data) && data[i] >= '1' && data[i] <= '9':
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		d.pos = i
		d.syntax("invalid number")
		return nil, false
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			d.syntax("invalid number")
			return nil, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			d.pos = i
			d.syntax("invalid number")
			return nil, false
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	d.pos = i
	return data[start:i], true
}

func isIntegerLiteral(lit []byte) bool {
	for i, c := range lit {
		if c == 'e' || c == 'E' {
			// An in-range value with a huge exponent is 0.000…: integral only if its digits are all 0.
			// (Checked before big.Rat, which would build 10^exponent.)
			exp := bytesTrimLeft(lit[i+1:], "+-0")
			if len(exp) > 3 {
				return allBytes(string(bytesTrimLeft(lit[:i], "-0.")), func(c byte) bool { return c == '0' || c == '.' })
			}
		}
	}
	for _, c := range lit {
		if c == '.' || c == 'e' || c == 'E' {
			r, ok := new(big.Rat).SetString(string(lit))
			return ok && r.IsInt()
		}
	}
	return true
}

// outOfRangeExact compares the literal with the bounds exactly: float64 rounding could make
// 99999999999999.991 look equal to the maximum 99999999999999.99.
func outOfRangeExact(f float64, lit []byte, fs *fieldSpec) bool {
	if math.IsInf(f, 0) || f < fs.min || f > fs.max {
		return true
	}
	if f != fs.min && f != fs.max {
		return false
	}
	if i := bytes.IndexAny(lit, "eE"); i >= 0 && len(bytesTrimLeft(lit[i+1:], "+-0")) > 3 {
		// ±0.000…x underflowed to 0 (big.Rat would build 10^exponent): only a negative non-zero
		// mantissa can fall below a minimum of 0.
		neg := lit[0] == '-'
		zero := len(bytesTrimLeft(lit[:i], "-0.")) == 0
		return neg && !zero && fs.min >= 0
	}
	v, ok := new(big.Rat).SetString(string(lit))
	if !ok {
		return true
	}
	lo, _ := new(big.Rat).SetString(fs.minS)
	hi, _ := new(big.Rat).SetString(fs.maxS)
	return v.Cmp(lo) < 0 || v.Cmp(hi) > 0
}

// str scans a JSON string at d.pos ('"') and returns its unescaped bytes (valid UTF-8; invalid
// bytes become U+FFFD as encoding/json does). The result may alias d.data or d.buf.
func (d *decoder) str() ([]byte, bool) {
	d.pos++
	start := d.pos
	data := d.data
	i := start
	for i < len(data) {
		c := data[i]
		if c == '"' {
			d.pos = i + 1
			return data[start:i], true
		}
		if c == '\\' || c < 0x20 || c >= utf8.RuneSelf {
			break
		}
		i++
	}
	// slow path: escapes, control characters or non-ASCII
	buf := append(d.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.pos = i + 1
			d.buf = buf
			return buf, true
		case c < 0x20:
			d.pos = i
			d.syntax("control character in a string")
			return nil, false
		case c == '\\':
			i++
			if i >= len(data) {
				d.pos = i
				d.syntax("unterminated string")
				return nil, false
			}
			switch data[i] {
			case '"', '\\', '/':
				buf = append(buf, data[i])
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(data, i+1)
				if !ok {
					d.pos = i
					d.syntax("bad \\u escape")
					return nil, false
				}
				i += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+2 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
						r2, ok2 = hex4(data, i+3)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				d.pos = i
				d.syntax("bad escape in a string")
				return nil, false
			}
			i++
		case c < utf8.RuneSelf:
			buf = append(buf, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				buf = utf8.AppendRune(buf, utf8.RuneError)
			} else {
				buf = append(buf, data[i:i+size]...)
			}
			i += size
		}
	}
	d.pos = i
	d.syntax("unterminated string")
	return nil, false
}

func hex4(data []byte, i int) (rune, bool) {
	if i+4 > len(data) {
		return 0, false
	}
	var r rune
	for _, c := range data[i : i+4] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return r, true
}

// skipValue validates and skips any JSON value; false after a syntax error.
func (d *decoder) skipValue() bool {
	d.skipWS()
	if d.pos >= len(d.data) {
		d.syntax("unexpected end of input")
		return false
	}
	switch c := d.data[d.pos]; {
	case c == '"':
		_, ok := d.str()
		return ok
	case c == '{' || c == '[':
		d.depth++
		defer func() { d.depth-- }()
		if d.depth > maxDepth {
			d.syntax("nested too deeply")
			return false
		}
		closer := byte('}')
		if c == '[' {
			closer = ']'
		}
		d.pos++
		d.skipWS()
		if d.pos < len(d.data) && d.data[d.pos] == closer {
			d.pos++
			return true
		}
		for {
			d.skipWS()
			if c == '{' {
				if d.pos >= len(d.data) || d.data[d.pos] != '"' {
					d.syntax("expected a quoted field name")
					return false
				}
				if _, ok := d.str(); !ok {
					return false
				}
				d.skipWS()
				if d.pos >= len(d.data) || d.data[d.pos] != ':' {
					d.syntax("expected ':' after a field name")
					return false
				}
				d.pos++
			}
			if !d.skipValue() {
				return false
			}
			d.skipWS()
			if d.pos >= len(d.data) {
				d.syntax("unexpected end of input")
				return false
			}
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == closer {
				d.pos++
				return true
			}
			d.syntax("expected ',' or a closing bracket")
			return false
		}
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || (c >= '0' && c <= '9'):
		_, ok := d.number()
		return ok
	}
	d.syntax("unexpected " + byteName(d.data[d.pos]))
	return false
}

// utf8BOM is the byte order mark some tools put before UTF-8 text.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// TrimBOM returns data without a leading UTF-8 byte order mark, which Decode and Check
// ignore: what is stored or sent on should not carry one either.
func TrimBOM(data []byte) []byte { return bytes.TrimPrefix(data, utf8BOM) }

// byteName names a byte for a syntax error: a printable ASCII character quoted, anything
// else (the start of a UTF-8 sequence where JSON wants a value, say) in hex.
func byteName(b byte) string {
	if b >= 0x20 && b < 0x7F {
		return strconv.QuoteRune(rune(b))
	}
	return fmt.Sprintf("byte 0x%02X", b)
}

func bytesTrimLeft(b []byte, cut string) []byte {
	for len(b) > 0 && strings.IndexByte(cut, b[0]) >= 0 {
		b = b[1:]
	}
	return b
}
