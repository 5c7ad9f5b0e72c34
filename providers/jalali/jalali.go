// Package jalali converts between the Gregorian calendar and the Jalali
// (Persian, Solar Hijri) calendar, and parses the Jalali date strings that
// Iranian providers send: YYMMDD, YYYYMMDD and YYYYMMDDHHmmss.
//
// The conversion is the jalaali algorithm (Borkowski's break years, as in
// jalaali-js), valid for Jalali years 1 to 3177. Times are placed in Tehran
// time as a fixed +03:30 zone, so no tzdata is needed; Iran has kept no
// daylight saving time since 2022, and older summer times are off by an hour.
package jalali

import (
	"fmt"
	"strconv"
	"time"
)

// Jalali years the algorithm covers.
const (
	minYear = 1
	maxYear = 3177
)

// twoDigitPivot decides the century of a two-digit year: YY at or above it
// means 13YY, below it 14YY. "951210" is 1395/12/10 and "030105" is
// 1403/01/05, so two-digit years cover 1350–1449 (1971–2071).
const twoDigitPivot = 50

// Tehran returns the Asia/Tehran zone as a fixed +03:30 offset.
func Tehran() *time.Location {
	return time.FixedZone("IRST", 3*3600+1800)
}

// FromGregorian returns the Jalali date of the calendar day t falls on in
// its own location. Convert t first (t.In(jalali.Tehran())) to get the date
// in Iran.
func FromGregorian(t time.Time) (y, m, d int) {
	gy, gm, gd := t.Date()
	jy := gy - 621
	farvardin1, leap := newYear(jy)
	k := daysBetween(farvardin1, civil(gy, gm, gd))
	if k >= 0 {
		if k <= 185 {
			return jy, 1 + k/31, k%31 + 1
		}
		k -= 186
	} else {
		// Before Nowruz: the day is in the last months of the previous year.
		jy--
		k += 179
		if leap == 1 {
			k++
		}
	}
	return jy, 7 + k/30, k%30 + 1
}

// ToGregorian returns midnight in Tehran of the Jalali date y/m/d. It fails
// when the month is not 1–12 or the day is not in the month (Esfand has 30
// days only in leap years).
func ToGregorian(y, m, d int) (time.Time, error) {
	if err := validate(y, m, d); err != nil {
		return time.Time{}, err
	}
	farvardin1, _ := newYear(y)
	offset := (m-1)*31 - (m/7)*(m-7) + d - 1
	gy, gm, gd := farvardin1.AddDate(0, 0, offset).Date()
	return time.Date(gy, gm, gd, 0, 0, 0, 0, Tehran()), nil
}

// IsLeap reports whether Jalali year y has 366 days (Esfand 30 exists).
func IsLeap(y int) bool {
	if y < minYear || y > maxYear {
		return false
	}
	_, leap := newYear(y)
	return leap == 0
}

// DaysInMonth returns the number of days of Jalali month m in year y, or 0
// when m is not 1–12.
func DaysInMonth(y, m int) int {
	switch {
	case m >= 1 && m <= 6:
		return 31
	case m >= 7 && m <= 11:
		return 30
	case m == 12 && IsLeap(y):
		return 30
	case m == 12:
		return 29
	default:
		return 0
	}
}

// FormatYYMMDD formats the Jalali date of t (in t's location) as YYMMDD, the
// form of Finnotech's blockDate: 2017-02-28 gives "951210".
func FormatYYMMDD(t time.Time) string {
	y, m, d := FromGregorian(t)
	return fmt.Sprintf("%02d%02d%02d", y%100, m, d)
}

// Date is a parsed Jalali date or date-time. Raw keeps the string as it was
// sent; the fields not present in Raw are zero.
type Date struct {
	Raw    string
	Year   int
	Month  int
	Day    int
	Hour   int
	Minute int
	Second int
}

// Parse reads a Jalali date in one of the forms providers send:
//
//	YYMMDD          "951210"          1395/12/10 (see below for the century)
//	YYYYMMDD        "13970430"        1397/04/30
//	YYYYMMDDHHmmss  "13970730111355"  1397/07/30 11:13:55
//
// A two-digit year YY means 13YY when YY >= 50 and 14YY otherwise.
func Parse(s string) (Date, error) {
	for _, r := range s {
		if r < '0' || r > '9' {
			return Date{}, fmt.Errorf("parsing jalali date %q: not all digits", s)
		}
	}
	d := Date{Raw: s}
	switch len(s) {
	case 6:
		d.Year = atoi(s[0:2])
		if d.Year >= twoDigitPivot {
			d.Year += 1300
		} else {
			d.Year += 1400
		}
		d.Month, d.Day = atoi(s[2:4]), atoi(s[4:6])
	case 8, 14:
		d.Year, d.Month, d.Day = atoi(s[0:4]), atoi(s[4:6]), atoi(s[6:8])
		if len(s) == 14 {
			d.Hour, d.Minute, d.Second = atoi(s[8:10]), atoi(s[10:12]), atoi(s[12:14])
		}
	default:
		return Date{}, fmt.Errorf("parsing jalali date %q: want YYMMDD, YYYYMMDD or YYYYMMDDHHmmss", s)
	}
	if err := validate(d.Year, d.Month, d.Day); err != nil {
		return Date{}, fmt.Errorf("parsing jalali date %q: %w", s, err)
	}
	if d.Hour > 23 || d.Minute > 59 || d.Second > 59 {
		return Date{}, fmt.Errorf("parsing jalali date %q: time %02d:%02d:%02d out of range", s, d.Hour, d.Minute, d.Second)
	}
	return d, nil
}

// Time returns d as a Gregorian time in Tehran, or the zero time when d is
// not a valid date (a Date from Parse always is).
func (d Date) Time() time.Time {
	t, err := ToGregorian(d.Year, d.Month, d.Day)
	if err != nil {
		return time.Time{}
	}
	return time.Date(t.Year(), t.Month(), t.Day(), d.Hour, d.Minute, d.Second, 0, Tehran())
}

// String formats d as YYYY/MM/DD, with HH:mm:ss when Raw held a time.
func (d Date) String() string {
	s := fmt.Sprintf("%04d/%02d/%02d", d.Year, d.Month, d.Day)
	if len(d.Raw) == 14 {
		s += fmt.Sprintf(" %02d:%02d:%02d", d.Hour, d.Minute, d.Second)
	}
	return s
}

func validate(y, m, d int) error {
	if y < minYear || y > maxYear {
		return fmt.Errorf("jalali year %d out of range %d–%d", y, minYear, maxYear)
	}
	if m < 1 || m > 12 {
		return fmt.Errorf("jalali month %d out of range 1–12", m)
	}
	if n := DaysInMonth(y, m); d < 1 || d > n {
		return fmt.Errorf("jalali day %d out of range 1–%d for %d/%02d", d, n, y, m)
	}
	return nil
}

// breaks are the Jalali years in which the 33-year leap cycle shifts
// (jalaali-js).
func breaks() [20]int {
	return [20]int{-61, 9, 38, 199, 426, 686, 756, 818, 1111, 1181, 1210,
		1635, 2060, 2097, 2192, 2262, 2324, 2394, 2456, 3178}
}

// newYear returns the Gregorian day (UTC midnight) of 1 Farvardin of Jalali
// year jy, and the number of years since the last leap year (0 means jy is
// itself a leap year). jy must be in minYear..maxYear+1.
func newYear(jy int) (farvardin1 time.Time, leap int) {
	br := breaks()
	gy := jy + 621
	leapJ := -14
	jp := br[0]
	jump := 0
	for i := 1; i < len(br); i++ {
		jm := br[i]
		jump = jm - jp
		if jy < jm {
			break
		}
		leapJ += jump/33*8 + (jump%33)/4
		jp = jm
	}
	n := jy - jp
	leapJ += n/33*8 + (n%33+3)/4
	if jump%33 == 4 && jump-n == 4 {
		leapJ++
	}
	leapG := gy/4 - (gy/100+1)*3/4 - 150
	march := 20 + leapJ - leapG

	if jump-n < 6 {
		n = n - jump + (jump+4)/33*33
	}
	// Truncated remainders, as in jalaali-js: -1 means four years.
	leap = ((n+1)%33 - 1) % 4
	if leap == -1 {
		leap = 4
	}
	return civil(gy, time.March, march), leap
}

func civil(y int, m time.Month, d int) time.Time {
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// daysBetween counts whole days from a to b, both UTC midnights.
func daysBetween(a, b time.Time) int {
	return int(b.Sub(a) / (24 * time.Hour))
}

// atoi reads a string already checked to hold only digits.
func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}
