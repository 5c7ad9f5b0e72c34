package wire

// The facility inquiry's answer has two types: FacilityResult, as the
// client reads it (leniently, every amount and code a string or a number,
// both spellings of amountOrginal), and FacilityAnswer, the seed's shape
// exactly, as the fake writes it. TestFacilityAnswerReadsBack keeps the two
// in step.

// NoFacilityResult is the value of result.result in the "no facility"
// answer (finnotech/doc.go, "Facility inquiry").
const NoFacilityResult = 120

// FacilityResult is the facility inquiry result as the seed shows it. Every
// amount and code is read leniently, as a string or a number.
type FacilityResult struct {
	// Result is 120 in the "no facility" answer, absent otherwise.
	Result  LenientInt    `json:"result"`
	NID     LenientString `json:"nid"`
	Name    string        `json:"name"`
	Message string        `json:"message"`

	TotalAmount            LenientInt    `json:"facilityTotalAmount"`
	DebtTotalAmount        LenientInt    `json:"facilityDebtTotalAmount"`
	PastExpiredTotalAmount LenientInt    `json:"facilityPastExpiredTotalAmount"`
	DeferredTotalAmount    LenientInt    `json:"facilityDeferredTotalAmount"`
	SuspiciousTotalAmount  LenientInt    `json:"facilitySuspiciousTotalAmount"`
	Dishonored             LenientString `json:"dishonored"`

	// FacilityList is nil when the answer has none.
	FacilityList []FacilityItem `json:"facilityList"`
}

// Missing is empty: every answer is read, an answer without facilityList
// being the "no facility" one (finnotech/doc.go, "Facility inquiry").
func (FacilityResult) Missing() []string { return nil }

// FacilityItem is one loan. The seed sends each loan twice, in plain
// camelCase fields and in fields with a Pascal "Facility" prefix, and the
// two do not agree (branchCode "91182" next to FacilityBranchCode "02159";
// debtorTotalAmount 101017180, which the seed's facilityDebtTotalAmount
// equals, next to FacilityDebtorTotalAmount 1151155953). The seed does not
// say which is right, so blockd keeps both (finnotech/doc.go, "Facility
// inquiry").
type FacilityItem struct {
	BankCode          LenientString `json:"bankCode"`
	BranchCode        LenientString `json:"branchCode"`
	BranchDescription string        `json:"branchDescription"`
	PastExpiredAmount LenientInt    `json:"pastExpiredAmount"`
	DeferredAmount    LenientInt    `json:"deferredAmount"`
	SuspiciousAmount  LenientInt    `json:"suspiciousAmount"`
	DebtorTotalAmount LenientInt    `json:"debtorTotalAmount"`
	Type              LenientString `json:"type"`
	// AmountOrginal is spelled as Finnotech spells it; AmountOriginal is
	// read too, in case the spelling is ever fixed.
	AmountOrginal  LenientInt `json:"amountOrginal"`
	AmountOriginal LenientInt `json:"amountOriginal"`
	BenefitAmount  LenientInt `json:"benefitAmount"`

	FacilityBankCode          LenientString `json:"FacilityBankCode"`
	FacilityBranchCode        LenientString `json:"FacilityBranchCode"`
	FacilityBranch            string        `json:"FacilityBranch"`
	FacilityRequestNo         LenientString `json:"FacilityRequestNo"`
	FacilityRequestType       LenientString `json:"FacilityRequestType"`
	FacilityCurrencyCode      LenientString `json:"FacilityCurrencyCode"`
	FacilityPastExpiredAmount LenientInt    `json:"FacilityPastExpiredAmount"`
	FacilityDeferredAmount    LenientInt    `json:"FacilityDeferredAmount"`
	FacilitySuspiciousAmount  LenientInt    `json:"FacilitySuspiciousAmount"`
	FacilityDebtorTotalAmount LenientInt    `json:"FacilityDebtorTotalAmount"`
	FacilityType              LenientString `json:"FacilityType"`
	FacilityStatus            string        `json:"FacilityStatus"`
	FacilityAmountOrginal     LenientInt    `json:"FacilityAmountOrginal"`
	FacilityAmountOriginal    LenientInt    `json:"FacilityAmountOriginal"`
	FacilityBenefitAmount     LenientInt    `json:"FacilityBenefitAmount"`
	FacilitySetDate           LenientString `json:"FacilitySetDate"`
	FacilityEndDate           LenientString `json:"FacilityEndDate"`
	FacilityAmountObligation  LenientInt    `json:"FacilityAmountObligation"`
	FacilityGroup             string        `json:"FacilityGroup"`
	FacilityMoratoriumDate    LenientString `json:"FacilityMoratoriumDate"`
}

// NoFacilityAnswer is the seed's "no facility" result, as the fake writes it.
type NoFacilityAnswer struct {
	Result  int    `json:"result"`
	NID     string `json:"nid"`
	Message string `json:"message"`
}

// FacilityAnswer is the seed's result, field for field, as the fake writes
// it: amounts are strings as in the seed.
type FacilityAnswer struct {
	NID                            string               `json:"nid"`
	Name                           string               `json:"name"`
	FacilityTotalAmount            string               `json:"facilityTotalAmount"`
	FacilityDebtTotalAmount        string               `json:"facilityDebtTotalAmount"`
	FacilityPastExpiredTotalAmount string               `json:"facilityPastExpiredTotalAmount"`
	FacilityDeferredTotalAmount    string               `json:"facilityDeferredTotalAmount"`
	FacilitySuspiciousTotalAmount  string               `json:"facilitySuspiciousTotalAmount"`
	Dishonored                     string               `json:"dishonored"`
	FacilityList                   []FacilityAnswerItem `json:"facilityList"`
}

// FacilityAnswerItem is one loan as the seed shows it, except branchCode,
// a number as in the official SDK.
type FacilityAnswerItem struct {
	BankCode                  string `json:"bankCode"`
	BranchCode                int    `json:"branchCode"`
	BranchDescription         string `json:"branchDescription"`
	PastExpiredAmount         string `json:"pastExpiredAmount"`
	DeferredAmount            string `json:"deferredAmount"`
	SuspiciousAmount          string `json:"suspiciousAmount"`
	DebtorTotalAmount         string `json:"debtorTotalAmount"`
	Type                      string `json:"type"`
	AmountOrginal             string `json:"amountOrginal"`
	BenefitAmount             string `json:"benefitAmount"`
	FacilityBankCode          string `json:"FacilityBankCode"`
	FacilityBranchCode        string `json:"FacilityBranchCode"`
	FacilityBranch            string `json:"FacilityBranch"`
	FacilityRequestNo         string `json:"FacilityRequestNo"`
	FacilityRequestType       string `json:"FacilityRequestType"`
	FacilityCurrencyCode      string `json:"FacilityCurrencyCode"`
	FacilityPastExpiredAmount string `json:"FacilityPastExpiredAmount"`
	FacilityDeferredAmount    string `json:"FacilityDeferredAmount"`
	FacilitySuspiciousAmount  string `json:"FacilitySuspiciousAmount"`
	FacilityDebtorTotalAmount string `json:"FacilityDebtorTotalAmount"`
	FacilityType              string `json:"FacilityType"`
	FacilityStatus            string `json:"FacilityStatus"`
	FacilityAmountOrginal     string `json:"FacilityAmountOrginal"`
	FacilityBenefitAmount     string `json:"FacilityBenefitAmount"`
	FacilitySetDate           string `json:"FacilitySetDate"`
	FacilityEndDate           string `json:"FacilityEndDate"`
	FacilityAmountObligation  string `json:"FacilityAmountObligation"`
	FacilityGroup             string `json:"FacilityGroup"`
	FacilityMoratoriumDate    string `json:"FacilityMoratoriumDate"`
}
