package sandbox

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/irpgate/irpgate/pkg/einvoice"
)

// DefaultPassword is the password of every built-in API user (a public sandbox credential).
const DefaultPassword = "Sandbox@123"

// withCheck appends the GSTIN check digit to a 14-character prefix.
func withCheck(first14 string) string {
	c, ok := einvoice.GSTINCheckDigit(first14)
	if !ok {
		panic("sandbox: bad built-in GSTIN " + first14)
	}
	return first14 + string(c)
}

// Synthetic taxpayers of the built-in master; all have valid check digits.
var (
	GSTINLarge           = withCheck("29AABCS1001A1Z") // Karnataka, active, 30-day reporting window
	GSTINMaharashtra     = withCheck("27AABCS1002B1Z") // Maharashtra, active
	GSTINDelhi           = withCheck("07AABCS1003C1Z") // Delhi, active
	GSTINTamilNadu       = withCheck("33AABCS1004D1Z") // Tamil Nadu, active
	GSTINInactive        = withCheck("29AABCS1005E1Z") // Karnataka, inactive (INA)
	GSTINCancelled       = withCheck("27AABCS1006F1Z") // Maharashtra, cancelled 2024-03-31
	GSTINBlocked         = withCheck("24AABCS1007G1Z") // Gujarat, active, blocked for e-way bills
	GSTINSEZ             = withCheck("29AABCS1008H1Z") // Karnataka, SEZ unit
	GSTINNotEnabled      = withCheck("06AABCS1009J1Z") // Haryana, active, e-invoicing not enabled
	GSTINProvisional     = withCheck("09AABCS1010K1Z") // Uttar Pradesh, provisional (PRO)
	GSTINECO             = withCheck("07AABCS1011L1C") // Delhi, e-commerce operator (TCS)
	GSTINCancelledNoDate = withCheck("33AABCS1012M1Z") // Tamil Nadu, cancelled, no de-registration date
)

func tp(gstin, name, loc string, pin int, txp, status, blk, dtReg, dtDReg string, enabled, large bool) Taxpayer {
	st := 0
	fmt.Sscanf(gstin[:2], "%d", &st) //nolint:errcheck // built-in data.
	return Taxpayer{
		Gstin: gstin, TradeName: name, LegalName: name + " Private Limited", AddrBnm: "Sandbox House",
		AddrBno: "1", AddrFlno: "Ground", AddrSt: "MG Road", AddrLoc: loc, StateCode: st, AddrPncd: pin,
		TxpType: txp, Status: status, BlkStatus: blk, DtReg: dtReg, DtDReg: dtDReg,
		EInvoiceEnabled: enabled, LargeTaxpayer: large,
	}
}

// DefaultTaxpayers is the built-in GSTIN master: NIC's public sandbox test GSTINs (which fail the
// check digit, as they do on NIC's sandbox) plus synthetic taxpayers covering every status.
func DefaultTaxpayers() []Taxpayer {
	const reg = "2017-07-01"
	return []Taxpayer{
		// NIC / GSP public sandbox GSTINs.
		tp("29AWGPV7107B1Z1", "NIC Sample Buyer", "Bengaluru", 560001, "REG", "ACT", "U", reg, "", true, false),
		tp("37ARZPT4384Q1MT", "NIC Sample Seller", "Vijayawada", 520001, "REG", "ACT", "U", reg, "", true, false),
		tp("01AMBPG7773M002", "Adaequare Test JK", "Srinagar", 190001, "REG", "ACT", "U", reg, "", true, false),
		tp("02AMBPG7773M002", "Adaequare Test HP", "Shimla", 171001, "REG", "ACT", "U", reg, "", true, false),
		tp("36AMBPG7773M002", "Adaequare Test TS", "Hyderabad", 500001, "REG", "ACT", "U", reg, "", true, false),
		tp("05AAACG2115R1ZN", "EWB Sandbox Test", "Dehradun", 248001, "REG", "ACT", "U", reg, "", true, false),
		tp("24AAAPI3182M002", "Test PAN Gujarat", "Ahmedabad", 380001, "REG", "ACT", "U", reg, "", true, false),
		tp("27AAAPI3182M002", "Test PAN Maharashtra", "Mumbai", 400001, "REG", "ACT", "U", reg, "", true, false),
		tp("29AAAPI3182M000", "Test PAN Karnataka", "Bengaluru", 560002, "REG", "ACT", "U", reg, "", true, false),
		// Valid-check-digit GSTINs seen in public samples.
		tp("29AAACP7879D1Z0", "Sample Karnataka Co", "Bengaluru", 560003, "REG", "ACT", "U", reg, "", true, false),
		tp("09AAJCM7191E1Z5", "Sample UP Co", "Noida", 201301, "REG", "ACT", "U", reg, "", true, false),
		tp("37AABCA7365E2ZP", "Sample Andhra Co", "Visakhapatnam", 530001, "REG", "ACT", "U", reg, "", true, false),
		tp("24AAUPV7468F1ZW", "Sample Gujarat Co", "Surat", 395001, "REG", "ACT", "U", reg, "", true, false),
		// Synthetic taxpayers.
		tp(GSTINLarge, "Sandbox Large Taxpayer", "Bengaluru", 560034, "REG", "ACT", "U", reg, "", true, true),
		tp(GSTINMaharashtra, "Sandbox Traders Mumbai", "Mumbai", 400013, "REG", "ACT", "U", reg, "", true, false),
		tp(GSTINDelhi, "Sandbox Traders Delhi", "New Delhi", 110001, "REG", "ACT", "U", reg, "", true, false),
		tp(GSTINTamilNadu, "Sandbox Traders Chennai", "Chennai", 600001, "REG", "ACT", "U", reg, "", true, false),
		tp(GSTINInactive, "Sandbox Inactive Co", "Mysuru", 570001, "REG", "INA", "U", reg, "", true, false),
		tp(GSTINCancelled, "Sandbox Cancelled Co", "Pune", 411001, "REG", "CNL", "U", reg, "2024-03-31", true, false),
		tp(GSTINBlocked, "Sandbox Blocked Co", "Vadodara", 390001, "REG", "ACT", "B", reg, "", true, false),
		tp(GSTINSEZ, "Sandbox SEZ Unit", "Bengaluru", 560100, "SEZ", "ACT", "U", reg, "", true, false),
		tp(GSTINNotEnabled, "Sandbox Not Enabled Co", "Gurugram", 122001, "REG", "ACT", "U", reg, "", false, false),
		tp(GSTINProvisional, "Sandbox Provisional Co", "Lucknow", 226001, "REG", "PRO", "U", reg, "", true, false),
		tp(GSTINECO, "Sandbox Marketplace", "New Delhi", 110020, "TCS", "ACT", "U", reg, "", true, false),
		tp(GSTINCancelledNoDate, "Sandbox Cancelled No Date", "Madurai", 625001, "REG", "CNL", "U", reg, "", true, false),
	}
}

// DefaultUsers makes one API user per taxpayer: client credentials per PAN (as NIC issues them)
// and user name "sbx_<GSTIN>" with DefaultPassword.
func DefaultUsers(taxpayers []Taxpayer) []User {
	out := make([]User, 0, len(taxpayers))
	for _, t := range taxpayers {
		pan := einvoice.PAN(t.Gstin)
		out = append(out, User{
			GSTIN: t.Gstin, ClientID: "SBX" + pan, ClientSecret: "SBXSECRET" + pan,
			UserName: "sbx_" + t.Gstin, Password: DefaultPassword,
		})
	}
	return out
}

// Master is the file form of a taxpayer master: {"taxpayers": [...], "users": [...]}.
// Users may be omitted: then DefaultUsers of the taxpayers are used.
type Master struct {
	Taxpayers []Taxpayer `json:"taxpayers"`
	Users     []User     `json:"users"`
}

// LoadMaster reads a taxpayer master file.
func LoadMaster(path string) (*Master, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sandbox: master: %w", err)
	}
	var m Master
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("sandbox: master %s: %w", path, err)
	}
	if len(m.Taxpayers) == 0 {
		return nil, fmt.Errorf("sandbox: master %s has no taxpayers", path)
	}
	return &m, nil
}
