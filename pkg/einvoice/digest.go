package einvoice

import (
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"math"
	"unsafe"
)

// Digest is the SHA-256 of the document's canonical form: every field of the schema in a
// fixed order, with its value. Bodies that decode to the same Invoice have the same Digest,
// however their JSON is spaced, ordered or cased, and whatever the spelling of their
// numbers (100, 100.0, 1e2); a changed value gives another. It is what tells a retry of a
// document from a different document. It reads the Invoice directly, without encoding it.
//
// As with Encode, an empty string or a zero number reads the same as an absent field.
func (inv *Invoice) Digest() [sha256.Size]byte {
	var d digester
	d.h = sha256.New()
	d.buf = d.arr[:0]
	d.walk(invoiceSpec, unsafe.Pointer(inv))
	d.h.Write(d.buf)
	var sum [sha256.Size]byte
	d.h.Sum(sum[:0])
	return sum
}

// digester writes each value as a tag byte and 8 bytes (a length or the number's bits),
// strings followed by their bytes, so no two different Invoices write the same stream. It
// hashes in blocks of up to len(arr) bytes.
type digester struct {
	h   hash.Hash
	buf []byte
	arr [2048]byte
}

const (
	tagString = 's'
	tagNumber = 'n'
	tagInt    = 'i'
	tagObject = 'o'
	tagAbsent = '-'
	tagArray  = 'a'
)

func (d *digester) put(tag byte, v uint64) {
	if len(d.buf)+9 > cap(d.buf) {
		d.flush()
	}
	d.buf = binary.LittleEndian.AppendUint64(append(d.buf, tag), v)
}

func (d *digester) str(s string) {
	d.put(tagString, uint64(len(s)))
	if len(d.buf)+len(s) > cap(d.buf) {
		d.flush()
		if len(s) > cap(d.buf) {
			d.h.Write(unsafe.Slice(unsafe.StringData(s), len(s)))
			return
		}
	}
	d.buf = append(d.buf, s...)
}

func (d *digester) flush() {
	d.h.Write(d.buf)
	d.buf = d.buf[:0]
}

func (d *digester) walk(ss *structSpec, base unsafe.Pointer) {
	for i := range ss.fields {
		fs := &ss.fields[i]
		ptr := unsafe.Add(base, fs.off)
		switch fs.kind {
		case kStr:
			d.str(*(*string)(ptr))
		case kNum:
			f := *(*float64)(ptr)
			if f == 0 {
				f = 0 // -0 is 0
			}
			d.put(tagNumber, math.Float64bits(f))
		case kInt:
			d.put(tagInt, uint64(*(*int)(ptr))) //nolint:gosec // G115: the int's two's-complement bits are hashed, negative values included; the conversion is a bijection, not arithmetic
		case kObj:
			d.put(tagObject, 0)
			d.walk(fs.sub, ptr)
		case kPtr:
			q := *(*unsafe.Pointer)(ptr)
			if q == nil {
				d.put(tagAbsent, 0)
				continue
			}
			d.put(tagObject, 0)
			d.walk(fs.sub, q)
		case kSlice:
			sh := (*sliceHeader)(ptr)
			d.put(tagArray, uint64(sh.len)) //nolint:gosec // G115: a slice length is never negative
			size := fs.typ.Elem().Size()
			for j := 0; j < sh.len; j++ {
				d.walk(fs.sub, unsafe.Add(sh.data, uintptr(j)*size))
			}
		}
	}
}
