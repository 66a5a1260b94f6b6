package einvoice

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testOpts is the clock and switches every corpus document is valid under.
var testOpts = Options{Now: time.Date(2025, time.January, 15, 10, 0, 0, 0, IST), AcceptSandboxGSTINs: true}

func corpusFiles(t testing.TB) map[string][]byte {
	t.Helper()
	files, err := filepath.Glob("testdata/valid/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		out[filepath.Base(f)] = b
	}
	return out
}

func TestCorpusDocumentsAreValid(t *testing.T) {
	for name, data := range corpusFiles(t) {
		t.Run(name, func(t *testing.T) {
			inv, err := Check(data, testOpts)
			require.NoError(t, err)
			require.NotNil(t, inv)
		})
	}
}

func TestCorpusCoversEverySupplyAndDocumentType(t *testing.T) {
	sup, typ := map[string]bool{}, map[string]bool{}
	var ewb, intra, inter, goods, services bool
	for _, data := range corpusFiles(t) {
		inv, err := Decode(data)
		require.NoError(t, err)
		sup[inv.SupplyType()], typ[inv.DocType()] = true, true
		ewb = ewb || inv.EwbDtls != nil
		if inv.IsInterState() {
			inter = true
		} else {
			intra = true
		}
		for _, it := range inv.ItemList {
			goods = goods || it.IsServc == "N"
			services = services || it.IsServc == "Y"
		}
	}
	for _, s := range []string{"B2B", "SEZWP", "SEZWOP", "EXPWP", "EXPWOP", "DEXP"} {
		require.True(t, sup[s], "no %s document in testdata/valid", s)
	}
	for _, s := range []string{"INV", "CRN", "DBN"} {
		require.True(t, typ[s], "no %s document in testdata/valid", s)
	}
	require.True(t, ewb && intra && inter && goods && services)
}

func TestEncodeRoundTrip(t *testing.T) {
	for name, data := range corpusFiles(t) {
		t.Run(name, func(t *testing.T) {
			inv, err := Decode(data)
			require.NoError(t, err)
			out, err := inv.Encode()
			require.NoError(t, err)
			again, err := Decode(out)
			require.NoError(t, err)
			require.Equal(t, inv, again)
		})
	}
}
