package finnotech

import (
	"slices"
	"time"

	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/schemas"
)

// normalizeFacilities turns the answer r into blockd's result for
// nationalID. The "no facility" answer (result 120, or no facilityList at
// all, or an empty one) gives NoFacility, Finnotech's message and an empty,
// non-nil Facilities.
func normalizeFacilities(r wire.FacilityResult, nationalID string) schemas.FinnotechFacilityResult {
	out := schemas.FinnotechFacilityResult{
		NationalID:          nationalID,
		Name:                r.Name,
		Message:             r.Message,
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
		out.Facilities = append(out.Facilities, schemas.Facility{Summary: facilitySummary(it), Contract: facilityContract(it)})
	}
	return out
}

// facilitySummary is the loan's plain fields, or nil when none was sent.
func facilitySummary(it wire.FacilityItem) *schemas.FacilitySummary {
	amountOriginal := firstInt(it.AmountOrginal, it.AmountOriginal)
	if it.BankCode == "" && it.BranchCode == "" && it.BranchDescription == "" && it.Type == "" &&
		!anySet(amountOriginal, it.BenefitAmount, it.DebtorTotalAmount, it.PastExpiredAmount, it.DeferredAmount, it.SuspiciousAmount) {
		return nil
	}
	return &schemas.FacilitySummary{
		BankCode:          string(it.BankCode),
		BranchCode:        string(it.BranchCode),
		BranchDescription: it.BranchDescription,
		Type:              string(it.Type),
		AmountOriginal:    amountOriginal.V,
		BenefitAmount:     it.BenefitAmount.V,
		DebtorTotalAmount: it.DebtorTotalAmount.V,
		PastExpiredAmount: it.PastExpiredAmount.V,
		DeferredAmount:    it.DeferredAmount.V,
		SuspiciousAmount:  it.SuspiciousAmount.V,
	}
}

// facilityContract is the loan's "Facility"-prefixed fields, or nil when
// none was sent.
func facilityContract(it wire.FacilityItem) *schemas.FacilityContract {
	amountOriginal := firstInt(it.FacilityAmountOrginal, it.FacilityAmountOriginal)
	texts := []wire.LenientString{it.FacilityBankCode, it.FacilityBranchCode, wire.LenientString(it.FacilityBranch),
		it.FacilityRequestNo, it.FacilityRequestType, it.FacilityCurrencyCode, it.FacilityType, wire.LenientString(it.FacilityStatus),
		wire.LenientString(it.FacilityGroup), it.FacilitySetDate, it.FacilityEndDate, it.FacilityMoratoriumDate}
	if !slices.ContainsFunc(texts, func(s wire.LenientString) bool { return s != "" }) &&
		!anySet(amountOriginal, it.FacilityBenefitAmount, it.FacilityDebtorTotalAmount, it.FacilityPastExpiredAmount,
			it.FacilityDeferredAmount, it.FacilitySuspiciousAmount, it.FacilityAmountObligation) {
		return nil
	}
	c := &schemas.FacilityContract{
		BankCode:          string(it.FacilityBankCode),
		BranchCode:        string(it.FacilityBranchCode),
		Branch:            it.FacilityBranch,
		RequestNo:         string(it.FacilityRequestNo),
		RequestType:       string(it.FacilityRequestType),
		Currency:          string(it.FacilityCurrencyCode),
		Type:              string(it.FacilityType),
		Status:            it.FacilityStatus,
		Group:             it.FacilityGroup,
		AmountOriginal:    amountOriginal.V,
		BenefitAmount:     it.FacilityBenefitAmount.V,
		DebtorTotalAmount: it.FacilityDebtorTotalAmount.V,
		PastExpiredAmount: it.FacilityPastExpiredAmount.V,
		DeferredAmount:    it.FacilityDeferredAmount.V,
		SuspiciousAmount:  it.FacilitySuspiciousAmount.V,
		ObligationAmount:  it.FacilityAmountObligation.V,
		SetDate:           string(it.FacilitySetDate),
		EndDate:           string(it.FacilityEndDate),
		MoratoriumDate:    string(it.FacilityMoratoriumDate),
	}
	c.SetDateGregorian = gregorianDay(c.SetDate)
	c.EndDateGregorian = gregorianDay(c.EndDate)
	return c
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

// firstInt returns the first value that was sent, or one not Set.
func firstInt(vs ...wire.LenientInt) wire.LenientInt {
	for _, v := range vs {
		if v.Set {
			return v
		}
	}
	return wire.LenientInt{}
}

// anySet reports whether any of vs was sent.
func anySet(vs ...wire.LenientInt) bool {
	return firstInt(vs...).Set
}
