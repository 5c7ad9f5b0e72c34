package jalali

import (
	"fmt"
	"testing"
	"time"
)

// knownPairs are Jalali dates with their Gregorian day, checked against
// published calendars.
func knownPairs() []struct {
	name       string
	jy, jm, jd int
	gregorian  string
} {
	return []struct {
		name       string
		jy, jm, jd int
		gregorian  string
	}{
		{"finnotech seed blockDate", 1395, 12, 10, "2017-02-28"},
		{"nowruz 1403", 1403, 1, 1, "2024-03-20"},
		{"esfand 30 of leap 1399", 1399, 12, 30, "2021-03-20"},
		{"last day of 1402", 1402, 12, 29, "2024-03-19"},
		{"facility set date", 1397, 4, 30, "2018-07-21"},
		{"token creation date", 1397, 7, 30, "2018-10-22"},
		{"first of 2000", 1378, 10, 11, "2000-01-01"},
		{"nowruz 1400", 1400, 1, 1, "2021-03-21"},
		{"esfand 30 of leap 1403", 1403, 12, 30, "2025-03-20"},
		{"nowruz 1404", 1404, 1, 1, "2025-03-21"},
		{"nowruz 1300", 1300, 1, 1, "1921-03-21"},
		{"revolution day", 1357, 11, 22, "1979-02-11"},
	}
}

func TestKnownPairs(t *testing.T) {
	for _, tc := range knownPairs() {
		t.Run(tc.name, func(t *testing.T) {
			want := mustDay(t, tc.gregorian)
			got, err := ToGregorian(tc.jy, tc.jm, tc.jd)
			if err != nil {
				t.Fatalf("ToGregorian(%d, %d, %d): %v", tc.jy, tc.jm, tc.jd, err)
			}
			if got.Format(time.DateOnly) != tc.gregorian {
				t.Errorf("ToGregorian(%d, %d, %d) = %s, want %s", tc.jy, tc.jm, tc.jd, got.Format(time.DateOnly), tc.gregorian)
			}
			if got.Location().String() != "IRST" || got.Hour() != 0 {
				t.Errorf("ToGregorian gave %v, want midnight IRST", got)
			}
			y, m, d := FromGregorian(want)
			if y != tc.jy || m != tc.jm || d != tc.jd {
				t.Errorf("FromGregorian(%s) = %d/%d/%d, want %d/%d/%d", tc.gregorian, y, m, d, tc.jy, tc.jm, tc.jd)
			}
		})
	}
}

func TestFromGregorianUsesTheTimesOwnDay(t *testing.T) {
	// 2024-03-19 22:00 UTC is already 2024-03-20 01:30 in Tehran.
	utc := time.Date(2024, 3, 19, 22, 0, 0, 0, time.UTC)
	if y, m, d := FromGregorian(utc); y != 1402 || m != 12 || d != 29 {
		t.Errorf("FromGregorian(UTC) = %d/%d/%d, want 1402/12/29", y, m, d)
	}
	if y, m, d := FromGregorian(utc.In(Tehran())); y != 1403 || m != 1 || d != 1 {
		t.Errorf("FromGregorian(Tehran) = %d/%d/%d, want 1403/1/1", y, m, d)
	}
}

func TestLeapYears(t *testing.T) {
	tests := []struct {
		year int
		want bool
	}{
		{1395, true}, {1399, true}, {1403, true}, {1408, true},
		{1396, false}, {1400, false}, {1402, false}, {1404, false},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.year), func(t *testing.T) {
			if got := IsLeap(tc.year); got != tc.want {
				t.Errorf("IsLeap(%d) = %v, want %v", tc.year, got, tc.want)
			}
			wantEsfand := 29
			if tc.want {
				wantEsfand = 30
			}
			if got := DaysInMonth(tc.year, 12); got != wantEsfand {
				t.Errorf("DaysInMonth(%d, 12) = %d, want %d", tc.year, got, wantEsfand)
			}
		})
	}
}

// TestRoundTrip walks every day from 2000-01-01 to 2040-12-31: each converts
// back to itself, and the Jalali dates of consecutive days are consecutive.
func TestRoundTrip(t *testing.T) {
	start := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(2040, 12, 31, 0, 0, 0, 0, time.UTC)
	py, pm, pd := FromGregorian(start.AddDate(0, 0, -1))
	days := 0
	for day := start; !day.After(end); day = day.AddDate(0, 0, 1) {
		days++
		y, m, d := FromGregorian(day)
		back, err := ToGregorian(y, m, d)
		if err != nil {
			t.Fatalf("%s: ToGregorian(%d, %d, %d): %v", day.Format(time.DateOnly), y, m, d, err)
		}
		if back.Format(time.DateOnly) != day.Format(time.DateOnly) {
			t.Fatalf("%s -> %d/%d/%d -> %s", day.Format(time.DateOnly), y, m, d, back.Format(time.DateOnly))
		}
		if ny, nm, nd := next(py, pm, pd); y != ny || m != nm || d != nd {
			t.Fatalf("%s = %d/%d/%d, want the day after %d/%d/%d (%d/%d/%d)", day.Format(time.DateOnly), y, m, d, py, pm, pd, ny, nm, nd)
		}
		p, err := Parse(FormatYYMMDD(day))
		if err != nil {
			t.Fatalf("%s: Parse(FormatYYMMDD) = %v", day.Format(time.DateOnly), err)
		}
		if p.Time().Format(time.DateOnly) != day.Format(time.DateOnly) {
			t.Fatalf("%s: Parse(%q).Time() = %s", day.Format(time.DateOnly), p.Raw, p.Time().Format(time.DateOnly))
		}
		py, pm, pd = y, m, d
	}
	if days != 14976 {
		t.Errorf("walked %d days, want 14976", days)
	}
}

func next(y, m, d int) (int, int, int) {
	switch {
	case d < DaysInMonth(y, m):
		return y, m, d + 1
	case m < 12:
		return y, m + 1, 1
	default:
		return y + 1, 1, 1
	}
}

func TestParse(t *testing.T) {
	tests := []struct {
		in       string
		want     Date
		wantTime string
	}{
		{"951210", Date{Raw: "951210", Year: 1395, Month: 12, Day: 10}, "2017-02-28T00:00:00+03:30"},
		{"030101", Date{Raw: "030101", Year: 1403, Month: 1, Day: 1}, "2024-03-20T00:00:00+03:30"},
		{"991230", Date{Raw: "991230", Year: 1399, Month: 12, Day: 30}, "2021-03-20T00:00:00+03:30"},
		{"13970430", Date{Raw: "13970430", Year: 1397, Month: 4, Day: 30}, "2018-07-21T00:00:00+03:30"},
		{"13970730111355", Date{Raw: "13970730111355", Year: 1397, Month: 7, Day: 30, Hour: 11, Minute: 13, Second: 55}, "2018-10-22T11:13:55+03:30"},
		{"14021229235959", Date{Raw: "14021229235959", Year: 1402, Month: 12, Day: 29, Hour: 23, Minute: 59, Second: 59}, "2024-03-19T23:59:59+03:30"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("Parse(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if s := got.Time().Format(time.RFC3339); s != tc.wantTime {
				t.Errorf("Parse(%q).Time() = %s, want %s", tc.in, s, tc.wantTime)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct{ name, in string }{
		{"empty", ""},
		{"too short", "95121"},
		{"seven digits", "1395121"},
		{"letters", "95a210"},
		{"sign", "-95121"},
		{"space", " 951210"},
		{"month 0", "950010"},
		{"month 13", "951310"},
		{"day 0", "951200"},
		{"day 32 in farvardin", "950132"},
		{"day 31 in mehr", "950731"},
		{"esfand 30 of non-leap 1402", "021230"},
		{"esfand 30 of non-leap 1396 (long form)", "13961230"},
		{"year 0", "00000101"},
		{"hour 24", "13970730241355"},
		{"minute 60", "13970730116055"},
		{"second 60", "13970730111360"},
		{"twelve digits", "139707301113"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := Parse(tc.in); err == nil {
				t.Errorf("Parse(%q) = %+v, want an error", tc.in, got)
			}
		})
	}
}

func TestToGregorianInvalid(t *testing.T) {
	tests := []struct {
		name    string
		y, m, d int
	}{
		{"month 0", 1400, 0, 1},
		{"month 13", 1400, 13, 1},
		{"day 0", 1400, 1, 0},
		{"day 32", 1400, 1, 32},
		{"day 31 in month 7", 1400, 7, 31},
		{"esfand 30 of non-leap", 1402, 12, 30},
		{"year 0", 0, 1, 1},
		{"year past the table", 3178, 1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got, err := ToGregorian(tc.y, tc.m, tc.d); err == nil {
				t.Errorf("ToGregorian(%d, %d, %d) = %v, want an error", tc.y, tc.m, tc.d, got)
			}
		})
	}
}

func TestFormatYYMMDD(t *testing.T) {
	tests := []struct{ gregorian, want string }{
		{"2017-02-28", "951210"},
		{"2024-03-20", "030101"},
		{"2021-03-20", "991230"},
	}
	for _, tc := range tests {
		t.Run(tc.gregorian, func(t *testing.T) {
			if got := FormatYYMMDD(mustDay(t, tc.gregorian)); got != tc.want {
				t.Errorf("FormatYYMMDD(%s) = %q, want %q", tc.gregorian, got, tc.want)
			}
		})
	}
}

func TestInvalidDateTimeIsZero(t *testing.T) {
	if got := (Date{Year: 1402, Month: 12, Day: 30}).Time(); !got.IsZero() {
		t.Errorf("Time() of 1402/12/30 = %v, want the zero time", got)
	}
}

func mustDay(tb testing.TB, s string) time.Time {
	tb.Helper()
	d, err := time.Parse(time.DateOnly, s)
	if err != nil {
		tb.Fatalf("parsing %q: %v", s, err)
	}
	return d
}
