package einvoice

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestIRNVectors(t *testing.T) {
	cases := []struct{ gstin, typ, no, dt, want string }{
		{"01AMBPG7773M002", "INV", "SINV-CFY-00067", "16/09/2022", "706daeccda0ef6f818da78f3a2a05a1288731057373002289b46c3229289a2e7"},
		{"01AMBPG7773M002", "CRN", "g2qxhY", "17/09/2022", "1c96258af085e45da556494ea5e5a7b401a598ab80af4136309c2dac7b54d795"},
		{"02AMBPG7773M002", "INV", "9sQ5E2", "02/10/2023", "2ecc42a8e81dcbbb56923e4bd046c861ce7374060bd31875ce35447e922c9399"},
	}
	for _, tc := range cases {
		t.Run(tc.no, func(t *testing.T) {
			d, err := ParseDate(tc.dt)
			require.NoError(t, err)
			require.Equal(t, tc.want, IRN(tc.gstin, tc.typ, tc.no, d))
			inv := &Invoice{SellerDtls: SellerDtls{Gstin: tc.gstin}, DocDtls: DocDtls{Typ: tc.typ, No: tc.no, Dt: tc.dt}}
			require.Equal(t, tc.want, inv.IRN())
		})
	}
}

func TestIRNUpperCasesDocNoFromJune2025(t *testing.T) {
	before, _ := ParseDate("31/05/2025")
	from, _ := ParseDate("01/06/2025")
	require.NotEqual(t, IRN("37ARZPT4384Q1MT", "inv", "Test-00df1", before), IRN("37ARZPT4384Q1MT", "INV", "TEST-00DF1", before))
	require.Equal(t, IRN("37ARZPT4384Q1MT", "inv", "Test-00df1", from), IRN("37ARZPT4384Q1MT", "INV", "TEST-00DF1", from))
	inv := &Invoice{SellerDtls: SellerDtls{Gstin: "37ARZPT4384Q1MT"}, DocDtls: DocDtls{Typ: "inv", No: "Test-00df1", Dt: "14/07/2025"}}
	require.Equal(t, DocKey{"37ARZPT4384Q1MT", "2025-26", "INV", "TEST-00DF1"}, inv.Key())
}

func TestFinancialYear(t *testing.T) {
	for in, want := range map[string]string{"31/03/2023": "2022-23", "01/04/2023": "2023-24", "16/09/2022": "2022-23", "01/01/2000": "1999-00"} {
		d, err := ParseDate(in)
		require.NoError(t, err)
		require.Equal(t, want, FinancialYear(d), in)
	}
	// 31 March 20:00 UTC is already 1 April in India.
	require.Equal(t, "2024-25", FinancialYear(time.Date(2024, 3, 31, 20, 0, 0, 0, time.UTC)))
}

func TestParseDate(t *testing.T) {
	for _, bad := range []string{"31/02/2024", "2024-01-01", "1/1/2024", "00/01/2024", "01/13/2024"} {
		_, err := ParseDate(bad)
		require.Error(t, err, bad)
	}
	d, err := ParseDate("29/02/2024")
	require.NoError(t, err)
	require.Equal(t, "29/02/2024", FormatDate(d))
}

func TestValidateGSTIN(t *testing.T) {
	for _, g := range []string{"29AAACP7879D1Z0", "09AAJCM7191E1Z5", "37AABCA7365E2ZP", "24AAUPV7468F1ZW"} {
		require.NoError(t, ValidateGSTIN(g, false), g)
	}
	for _, g := range []string{
		"01AMBPG7773M002", "29AWGPV7107B1Z1", "37ARZPT4384Q1MT", "24AAAPI3182M002", "02AMBPG7773M002",
		"36AMBPG7773M002", "27AAAPI3182M002", "29AAAPI3182M000",
	} {
		require.ErrorIs(t, ValidateGSTIN(g, false), ErrGSTINCheckDigit, g)
		require.NoError(t, ValidateGSTIN(g, true), g)
	}
	require.NoError(t, ValidateGSTIN("05AAACG2115R1ZN", false)) // the EWB sandbox GSTIN happens to be valid
	require.ErrorIs(t, ValidateGSTIN("29aaacp7879d1z0", false), ErrGSTINFormat)
	require.ErrorIs(t, ValidateGSTIN("28AAACP7879D1Z0", false), ErrGSTINState)
	require.NotErrorIs(t, ValidateGSTIN("29AAACP7879D1Z1", true), ErrGSTINFormat)
	require.Equal(t, "AAACP7879D", PAN("29AAACP7879D1Z0"))
	require.Equal(t, "29", StateCode("29AAACP7879D1Z0"))
}

func TestMasters(t *testing.T) {
	name, ok := StateName("9")
	require.True(t, ok)
	require.Equal(t, "Uttar Pradesh", name)
	_, ok = StateName("28")
	require.False(t, ok)
	require.True(t, PINInState(560001, "29"))
	require.False(t, PINInState(560001, "27"))
	require.True(t, PINInState(999999, "96"))
	require.True(t, IsUQC("NOS") && !IsUQC("PIECE"))
	require.True(t, IsGSTRate(0.25) && IsGSTRate(18) && !IsGSTRate(13))
	require.True(t, IsPort("INNSA1") && IsCountry("US") && IsCurrency("USD"))
}

func TestMainHSN(t *testing.T) {
	inv := &Invoice{ItemList: []Item{{HsnCd: "1001", AssAmt: 10}, {HsnCd: "8471", AssAmt: 99}, {HsnCd: "9983", AssAmt: 99}}}
	require.Equal(t, "8471", inv.MainHSN())
}
