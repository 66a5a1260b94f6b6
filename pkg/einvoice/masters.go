package einvoice

import (
	"embed"
	"slices"
	"strconv"
	"strings"
)

// The masters are the code lists the IRP checks against (reference §5 "Enumerations and masters"),
// embedded so validation needs no network. NIC publishes the authoritative copies at
// https://einvoice1.gst.gov.in/Others/MasterCodes.
//
//go:embed masters/*.txt
var masterFiles embed.FS

var (
	stateNames  map[string]string   // "09" -> "Uttar Pradesh"
	pinPrefixes map[string][][2]int // "09" -> [[201 285]]
	uqcUnits    map[string]bool
	gstRates    []float64
	countries   map[string]bool
	currencies  map[string]bool
	ports       map[string]bool
)

func init() {
	stateNames = map[string]string{}
	for _, l := range masterLines("states.txt") {
		code, name, _ := strings.Cut(l, "|")
		stateNames[code] = name
	}
	pinPrefixes = map[string][][2]int{}
	for _, l := range masterLines("pin_ranges.txt") {
		code, ranges, _ := strings.Cut(l, "|")
		for _, r := range strings.Split(ranges, ",") {
			lo, hi, ok := strings.Cut(r, "-")
			if !ok {
				hi = lo
			}
			a, _ := strconv.Atoi(lo)
			b, _ := strconv.Atoi(hi)
			pinPrefixes[code] = append(pinPrefixes[code], [2]int{a, b})
		}
	}
	uqcUnits = masterSet("uqc.txt")
	countries = masterSet("countries.txt")
	currencies = masterSet("currencies.txt")
	ports = masterSet("ports.txt")
	for w := range masterSet("gst_rates.txt") {
		f, err := strconv.ParseFloat(w, 64)
		if err != nil {
			panic("einvoice: bad GST rate master entry " + w)
		}
		gstRates = append(gstRates, f)
	}
	slices.Sort(gstRates) // a set has no order; errors list the rates in one
}

func masterLines(name string) []string {
	b, err := masterFiles.ReadFile("masters/" + name)
	if err != nil {
		panic("einvoice: missing master " + name)
	}
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || l[0] == '#' {
			continue
		}
		out = append(out, l)
	}
	return out
}

func masterSet(name string) map[string]bool {
	m := map[string]bool{}
	for _, l := range masterLines(name) {
		for _, w := range strings.Fields(l) {
			m[w] = true
		}
	}
	return m
}

// StateName returns the state or UT name of a GST state code ("9" and "09" both work).
func StateName(code string) (string, bool) {
	n, ok := stateNames[NormalizeStateCode(code)]
	return n, ok
}

// PINInState reports whether a 6-digit PIN lies in the postal ranges of the state (§6 rule 5:
// NIC's fallback check on the first three digits). 999999 is the export/import placeholder and
// belongs only to 96 (Other Countries) and 97 (Other Territory).
func PINInState(pin int, stateCode string) bool {
	if pin < 100000 || pin > 999999 {
		return false
	}
	ranges, ok := pinPrefixes[NormalizeStateCode(stateCode)]
	if !ok {
		return false
	}
	p := pin / 1000
	for _, r := range ranges {
		if p >= r[0] && p <= r[1] {
			return true
		}
	}
	return false
}

// IsUQC reports whether unit is in the UQC master.
func IsUQC(unit string) bool { return uqcUnits[unit] }

// IsGSTRate reports whether rate (percent) is in the GST rate master.
func IsGSTRate(rate float64) bool {
	for _, r := range gstRates {
		if nearlyEqual(rate, r, 0.0005) {
			return true
		}
	}
	return false
}

// IsCountry reports whether code is an ISO-3166 alpha-2 country code in the master.
func IsCountry(code string) bool { return countries[code] }

// IsCurrency reports whether code is a currency in the master.
func IsCurrency(code string) bool { return currencies[code] }

// IsPort reports whether code is an Indian port code in the master.
func IsPort(code string) bool { return ports[code] }

func nearlyEqual(a, b, tol float64) bool {
	d := a - b
	return d <= tol && d >= -tol
}
