package finnotech

import (
	"time"

	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/schemas"
)

// normalizeFacilities turns the answer r into blockd's result for nationalID. The "no
// facility" answer (result 120, or no facilityList at all, or an empty one)
// gives NoFacility and an empty, non-nil Facilities.
func normalizeFacilities(r wire.FacilityResult, nationalID string) schemas.FinnotechFacilityResult {
	out := schemas.FinnotechFacilityResult{
		NationalID:          nationalID,
		Name:                r.Name,
		TotalAmount:         r.TotalAmount.V,
		DebtTotalAmount:     r.DebtTotalAmount.V,
		PastExpiredTotal:    r.PastExpiredTotalAmount.V,
		DeferredTotalAmount: r.DeferredTotalAmount.V,
		SuspiciousTotal:     r.SuspiciousTotalAmount.V,
		Dishonored:          string(r.Dishonored),
		Facilities:          make([]schemas.Facility, 0, len(r.FacilityList)),
	}
	if r.Result.Set && r.Result.V == wire.NoFacilityResult || len(r.FacilityList) == 0 {
		out.NoFacility = true
		return out
	}
	for _, it := range r.FacilityList {
		out.Facilities = append(out.Facilities, normalizeFacility(it))
	}
	return out
}

// normalizeFacility turns one loan of the answer into blockd's.
func normalizeFacility(it wire.FacilityItem) schemas.Facility {
	f := schemas.Facility{
		BankCode:          firstString(it.FacilityBankCode, it.BankCode),
		BranchCode:        firstString(it.FacilityBranchCode, it.BranchCode),
		BranchDescription: firstString(wire.LenientString(it.FacilityBranch), wire.LenientString(it.BranchDescription)),
		RequestNo:         string(it.FacilityRequestNo),
		Type:              firstString(it.FacilityType, it.Type),
		Status:            it.FacilityStatus,
		Currency:          string(it.FacilityCurrencyCode),
		AmountOriginal:    firstInt(it.FacilityAmountOrginal, it.FacilityAmountOriginal, it.AmountOrginal, it.AmountOriginal),
		BenefitAmount:     firstInt(it.FacilityBenefitAmount, it.BenefitAmount),
		DebtorTotalAmount: firstInt(it.FacilityDebtorTotalAmount, it.DebtorTotalAmount),
		PastExpiredAmount: firstInt(it.FacilityPastExpiredAmount, it.PastExpiredAmount),
		DeferredAmount:    firstInt(it.FacilityDeferredAmount, it.DeferredAmount),
		SuspiciousAmount:  firstInt(it.FacilitySuspiciousAmount, it.SuspiciousAmount),
		ObligationAmount:  it.FacilityAmountObligation.V,
		SetDate:           string(it.FacilitySetDate),
		EndDate:           string(it.FacilityEndDate),
	}
	f.SetDateGregorian = gregorianDay(f.SetDate)
	f.EndDateGregorian = gregorianDay(f.EndDate)
	return f
}

// gregorianDay converts a Jalali YYYYMMDD date to YYYY-MM-DD; it returns ""
// for anything else ("0" is the seed's empty date), keeping the raw value
// the only record of it.
func gregorianDay(raw string) string {
	if len(raw) != 8 {
		return ""
	}
	d, err := jalali.Parse(raw)
	if err != nil {
		return ""
	}
	return d.Time().Format(time.DateOnly)
}

// firstString returns the first non-empty value.
func firstString(vs ...wire.LenientString) string {
	for _, v := range vs {
		if v != "" {
			return string(v)
		}
	}
	return ""
}

// firstInt returns the first value that was sent, or 0.
func firstInt(vs ...wire.LenientInt) int64 {
	for _, v := range vs {
		if v.Set {
			return v.V
		}
	}
	return 0
}
