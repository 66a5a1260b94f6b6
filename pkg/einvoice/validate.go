package einvoice

import (
	"unsafe"
)

// validate runs the schema walk and then the business rules, appending to r.
func validate(inv *Invoice, opts Options, r *report) {
	walk(r, invoiceSpec, unsafe.Pointer(inv), path{})
	business(inv, opts, r)
}

// walk applies the schema rules of the specs to Go values. A zero number or empty string in an
// optional field reads as "absent".
func walk(r *report, ss *structSpec, base unsafe.Pointer, p path) {
	for i := range ss.fields {
		fs := &ss.fields[i]
		ptr := unsafe.Add(base, fs.off)
		switch fs.kind {
		case kStr:
			s := *(*string)(ptr)
			if s == "" {
				if fs.req {
					r.add(p.field(fs.name).String(), ReasonRequired, fs.nic, "is required")
				}
				continue
			}
			fp := p.field(fs.name)
			checkString(r, fs, &fp, s)
		case kNum:
			if f := *(*float64)(ptr); f < fs.min || f > fs.max {
				fp := p.field(fs.name)
				checkRange(r, fs, &fp, f)
			}
		case kInt:
			n := *(*int)(ptr)
			if n == 0 && !fs.req {
				continue
			}
			if f := float64(n); f < fs.min || f > fs.max {
				fp := p.field(fs.name)
				checkRange(r, fs, &fp, f)
			}
		case kObj:
			walk(r, fs.sub, ptr, p.field(fs.name))
		case kPtr:
			if q := *(*unsafe.Pointer)(ptr); q != nil {
				walk(r, fs.sub, q, p.field(fs.name))
			}
		case kSlice:
			sh := (*sliceHeader)(ptr)
			if sh.len == 0 {
				if fs.req || (sh.data != nil && fs.minItems > 0) {
					r.add(p.field(fs.name).String(), ReasonItemCount, itemCountNIC(fs, 0), "must have at least one entry")
				}
				continue
			}
			if sh.len < fs.minItems || sh.len > fs.maxItems {
				r.add(p.field(fs.name).String(), ReasonItemCount, itemCountNIC(fs, sh.len), itemCountMsg(fs, sh.len))
			}
			size := fs.typ.Elem().Size()
			fp := p.field(fs.name)
			for j := 0; j < sh.len; j++ {
				walk(r, fs.sub, unsafe.Add(sh.data, uintptr(j)*size), fp.index(j))
			}
		}
	}
}

type sliceHeader struct {
	data unsafe.Pointer
	len  int
	cap  int
}

func itemCountNIC(fs *fieldSpec, n int) string {
	if fs.name != "ItemList" {
		return ""
	}
	if n == 0 {
		return "2228"
	}
	return "2173"
}

func itemCountMsg(fs *fieldSpec, n int) string {
	return "has " + itoa(n) + " entries; allowed: " + itoa(fs.minItems) + " to " + itoa(fs.maxItems)
}
