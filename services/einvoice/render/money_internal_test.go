package render

import "testing"

func TestMoney_GroupsDigitsTheIndianWay(t *testing.T) {
	for _, tc := range []struct {
		in   float64
		want string
	}{
		{0, "0.00"},
		{5, "5.00"},
		{999.999, "1,000.00"},
		{1000, "1,000.00"},
		{12345.6, "12,345.60"},
		{100000, "1,00,000.00"},
		{1234567.891, "12,34,567.89"},
		{123456789012.34, "1,23,45,67,89,012.34"},
		{-1500.5, "-1,500.50"},
		{-0.25, "-0.25"},
	} {
		if got := money(tc.in); got != tc.want {
			t.Errorf("money(%v) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
