// Package render draws a registered e-invoice for people: its signed QR code as a PNG
// image, and the invoice as a PDF with that QR code printed on it.
//
// Both read only what the IRP signed, so a printout never shows what the IRP did not
// register.
package render

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"sync"

	"rsc.io/qr"
)

// DefaultQRSize is the edge of a QR image in pixels when none is asked for.
const DefaultQRSize = 256

// MaxQRSize bounds the edge of a QR image in pixels.
const MaxQRSize = 4096

// qrLevel is the error correction of printed codes: 15% of the code may be smudged or
// torn and it still reads. NIC's signed QR (a JWT of 600-1,000 characters) fits a
// version 20-27 code at this level.
const qrLevel = qr.M

// quietZone is the white border a QR code needs on each side, in modules.
const quietZone = 4

// SizeError is a QR size the code cannot be drawn at.
type SizeError struct {
	Size, Min, Max int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("size %d is outside %d-%d pixels, the range this QR code can be drawn at (one pixel per module at least)", e.Size, e.Min, e.Max)
}

// QRModules is the edge of the code for content in modules, quiet zone included: the
// smallest size in pixels it can be drawn at.
func QRModules(content string) (int, error) {
	c, err := qr.Encode(content, qrLevel)
	if err != nil {
		return 0, fmt.Errorf("encode QR code: %w", err)
	}
	return c.Size + 2*quietZone, nil
}

// QRPNG encodes content (the IRP's SignedQRCode) as a black-on-white PNG of size x size
// pixels, DefaultQRSize when size is 0. A size below the code's module count or above
// MaxQRSize is a *SizeError.
func QRPNG(content string, size int) ([]byte, error) {
	if size == 0 {
		size = DefaultQRSize
	}
	if content == "" {
		return nil, errors.New("encode QR code: nothing to encode")
	}
	c, err := qr.Encode(content, qrLevel)
	if err != nil {
		return nil, fmt.Errorf("encode QR code: %w", err)
	}
	if min := c.Size + 2*quietZone; size < min || size > MaxQRSize {
		return nil, &SizeError{Size: size, Min: min, Max: MaxQRSize}
	}
	return drawPNG(c, size)
}

// drawPNG draws the code with its quiet zone on a white square of size pixels, each
// module the same whole number of pixels, centred. (Stretching the code to fill the
// square instead gives modules 2 and 3 pixels wide side by side, which scanners and
// printers read less well.)
func drawPNG(c *qr.Code, size int) ([]byte, error) {
	px := size / (c.Size + 2*quietZone)
	off := (size - c.Size*px) / 2
	img := image.NewPaletted(image.Rect(0, 0, size, size), color.Palette{color.White, color.Black})
	for y := range c.Size {
		for x := range c.Size {
			if !c.Black(x, y) {
				continue
			}
			for dy := range px {
				start := img.PixOffset(off+x*px, off+y*px+dy)
				for i := range px {
					img.Pix[start+i] = 1
				}
			}
		}
	}
	var out bytes.Buffer
	enc := png.Encoder{BufferPool: &pngBuffers}
	if err := enc.Encode(&out, img); err != nil {
		return nil, fmt.Errorf("encode PNG: %w", err)
	}
	return out.Bytes(), nil
}

// pngBuffers keeps the PNG encoder's state (about 1 MB, most of it zlib's) between images.
var pngBuffers pngPool

type pngPool struct{ sync.Pool }

func (p *pngPool) Get() *png.EncoderBuffer {
	b, _ := p.Pool.Get().(*png.EncoderBuffer)
	return b
}

func (p *pngPool) Put(b *png.EncoderBuffer) { p.Pool.Put(b) }
