package finnotech

import (
	"time"

	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/schemas"
)

// noFacilityResult is the value of result.result in the "no facility"
// answer (finnotech-credit-facility-inquiry.seed.txt).
const noFacilityResult = 120

// facilityResult is the facility inquiry result as the seed shows it. Every
// amount and code is read leniently, as a string or a number.
type facilityResult struct {
	// Result is 120 in the "no facility" answer, absent otherwise.
	Result  lenientInt    `json:"result"`
	NID     lenientString `json:"nid"`
	Name    string        `json:"name"`
	Message string        `json:"message"`

	TotalAmount            lenientInt    `json:"facilityTotalAmount"`
	DebtTotalAmount        lenientInt    `json:"facilityDebtTotalAmount"`
	PastExpiredTotalAmount lenientInt    `json:"facilityPastExpiredTotalAmount"`
	DeferredTotalAmount    lenientInt    `json:"facilityDeferredTotalAmount"`
	SuspiciousTotalAmount  lenientInt    `json:"facilitySuspiciousTotalAmount"`
	Dishonored             lenientString `json:"dishonored"`

	// FacilityList is nil when the answer has none.
	FacilityList []facilityItem `json:"facilityList"`
}

// facilityItem is one loan. The seed sends each value twice, in camelCase
// and with a Pascal "Facility" prefix, and the two do not always agree
// (branchCode "91182" next to FacilityBranchCode "02159"). The Pascal
// fields are the fuller set (request number, status, dates), so blockd
// takes the Facility* value wherever one was sent and falls back to the
// camelCase one.
// ASSUMPTION (NOTES.md 4): the Facility* fields are the authoritative ones.
type facilityItem struct {
	BankCode          lenientString `json:"bankCode"`
	BranchCode        lenientString `json:"branchCode"`
	BranchDescription string        `json:"branchDescription"`
	PastExpiredAmount lenientInt    `json:"pastExpiredAmount"`
	DeferredAmount    lenientInt    `json:"deferredAmount"`
	SuspiciousAmount  lenientInt    `json:"suspiciousAmount"`
	DebtorTotalAmount lenientInt    `json:"debtorTotalAmount"`
	Type              lenientString `json:"type"`
	// AmountOrginal is spelled as Finnotech spells it; AmountOriginal is
	// read too, in case the spelling is ever fixed.
	AmountOrginal  lenientInt `json:"amountOrginal"`
	AmountOriginal lenientInt `json:"amountOriginal"`
	BenefitAmount  lenientInt `json:"benefitAmount"`

	FacilityBankCode          lenientString `json:"FacilityBankCode"`
	FacilityBranchCode        lenientString `json:"FacilityBranchCode"`
	FacilityBranch            string        `json:"FacilityBranch"`
	FacilityRequestNo         lenientString `json:"FacilityRequestNo"`
	FacilityRequestType       lenientString `json:"FacilityRequestType"`
	FacilityCurrencyCode      lenientString `json:"FacilityCurrencyCode"`
	FacilityPastExpiredAmount lenientInt    `json:"FacilityPastExpiredAmount"`
	FacilityDeferredAmount    lenientInt    `json:"FacilityDeferredAmount"`
	FacilitySuspiciousAmount  lenientInt    `json:"FacilitySuspiciousAmount"`
	FacilityDebtorTotalAmount lenientInt    `json:"FacilityDebtorTotalAmount"`
	FacilityType              lenientString `json:"FacilityType"`
	FacilityStatus            string        `json:"FacilityStatus"`
	FacilityAmountOrginal     lenientInt    `json:"FacilityAmountOrginal"`
	FacilityAmountOriginal    lenientInt    `json:"FacilityAmountOriginal"`
	FacilityBenefitAmount     lenientInt    `json:"FacilityBenefitAmount"`
	FacilitySetDate           lenientString `json:"FacilitySetDate"`
	FacilityEndDate           lenientString `json:"FacilityEndDate"`
	FacilityAmountObligation  lenientInt    `json:"FacilityAmountObligation"`
	FacilityGroup             string        `json:"FacilityGroup"`
	FacilityMoratoriumDate    lenientString `json:"FacilityMoratoriumDate"`
}

// normalize turns the answer into blockd's result for nationalID. The "no
// facility" answer (result 120, or no facilityList at all, or an empty one)
// gives NoFacility and an empty, non-nil Facilities.
func (r facilityResult) normalize(nationalID string) schemas.FinnotechFacilityResult {
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
	if r.Result.Set && r.Result.V == noFacilityResult || len(r.FacilityList) == 0 {
		out.NoFacility = true
		return out
	}
	for _, it := range r.FacilityList {
		out.Facilities = append(out.Facilities, it.normalize())
	}
	return out
}

func (it facilityItem) normalize() schemas.Facility {
	f := schemas.Facility{
		BankCode:          firstString(it.FacilityBankCode, it.BankCode),
		BranchCode:        firstString(it.FacilityBranchCode, it.BranchCode),
		BranchDescription: firstString(lenientString(it.FacilityBranch), lenientString(it.BranchDescription)),
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
func firstString(vs ...lenientString) string {
	for _, v := range vs {
		if v != "" {
			return string(v)
		}
	}
	return ""
}

// firstInt returns the first value that was sent, or 0.
func firstInt(vs ...lenientInt) int64 {
	for _, v := range vs {
		if v.Set {
			return v.V
		}
	}
	return 0
}
