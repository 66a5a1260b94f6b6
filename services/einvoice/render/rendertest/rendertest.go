// Package rendertest reads back what package render draws, for tests: the text of a QR
// image and the text of each page of a PDF.
package rendertest

import (
	"bytes"
	"fmt"
	"image/png"
	"strings"

	"github.com/ledongthuc/pdf"
	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"
)

// ReadQR decodes a PNG of a QR code alone on its quiet zone, as render.QRPNG draws it:
// its text and its edge in pixels.
func ReadQR(raw []byte) (text string, edge int, err error) {
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		return "", 0, err
	}
	b := img.Bounds()
	if b.Dx() != b.Dy() {
		return "", 0, fmt.Errorf("a QR image is square, this one is %dx%d", b.Dx(), b.Dy())
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", 0, err
	}
	// The image is the code alone, drawn on whole pixels: read it as such. (zxing's finder-
	// pattern detector, meant for photographs, misjudges about 1 in 60 codes drawn at 2
	// pixels per module; read as a pure code, none of 900 failed.)
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true})
	if err != nil {
		return "", 0, err
	}
	return res.GetText(), b.Dx(), nil
}

// PageTexts is the text of each page of a PDF, one line per row of text.
func PageTexts(raw []byte) ([]string, error) {
	r, err := pdf.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, err
	}
	texts := make([]string, r.NumPage())
	for i := range texts {
		rows, err := r.Page(i + 1).GetTextByRow()
		if err != nil {
			return nil, fmt.Errorf("page %d: %w", i+1, err)
		}
		var b strings.Builder
		for _, row := range rows {
			for _, w := range row.Content {
				b.WriteString(w.S)
			}
			b.WriteByte('\n')
		}
		texts[i] = b.String()
	}
	return texts, nil
}
