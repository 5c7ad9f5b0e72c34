package finnotechfake

import (
	"encoding/json"
	"fmt"
	"hash/fnv"
	"mime"
	"net/http"
	"strconv"

	"github.com/google/uuid"

	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
)

// transferInquiry serves GET .../unblockTransferInquiry: what became of the
// unblock-transfer sent with inquiryTrackId. The inquiry's own trackId is
// a new one, like every call's.
func (s *Sandbox) transferInquiry(w http.ResponseWriter, r *http.Request) {
	clientID := r.PathValue("clientId")
	trackID, inquired := r.URL.Query().Get("trackId"), r.URL.Query().Get("inquiryTrackId")
	s.mu.Lock()
	s.requests[OpTransferInquiry]++
	s.mu.Unlock()
	s.faults.Delay()

	if msg := s.authorize(r, wire.TokenTypeCode, ""); msg != "" {
		writeRefusedToken(w, trackID, msg)
		return
	}
	if !isValidTrackID(trackID) {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgBadTrackID)
		return
	}
	if !s.reserve(OpTransferInquiry, clientID, trackID) {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgDuplicateTrackID)
		return
	}
	if inquired == "" {
		s.finish(trackID, true, finnotech.CallFailed)
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgNoInquiryTrackID)
		return
	}

	s.mu.Lock()
	c, ok := s.calls[inquired]
	var res wire.TransferInquiryResult
	if ok && c.op == OpTransfer && c.clientID == clientID {
		// An amount of 0 (a transfer refused before it was read) is left out.
		res = wire.TransferInquiryResult{Status: string(c.status), Amount: wire.LenientInt{V: c.amount, Set: c.amount != 0},
			Destination: c.destination}
		if c.status == finnotech.CallDone {
			res.Source, res.TransferDate = c.source, c.transferDate
		}
	}
	s.mu.Unlock()
	if res.Status == "" {
		s.finish(trackID, true, finnotech.CallFailed)
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgTransactionNotFound)
		return
	}
	s.answered(OpTransferInquiry, trackID)
	writeJSON(w, http.StatusOK, wire.Envelope[wire.TransferInquiryResult]{Result: res, Status: wire.StatusDone, TrackID: trackID})
}

// facility serves GET /credit/v2/clients/{clientId}/users/{nid}/facilityInquiry
// with a client-credential token for ScopeFacilityInquiry (or, when
// Config.Tokens is empty, any token the sandbox did not issue). The
// national id must be 10 or 11 digits, else 400 VALIDATION_ERROR. The answer is
// made up from the national id, the same every time: one that ends in 0
// has no facility (the seed's result 120); any other has one to three,
// their amounts strings as in the seed and branchCode a number as in the
// official SDK.
func (s *Sandbox) facility(w http.ResponseWriter, r *http.Request) {
	clientID, nid := r.PathValue("clientId"), r.PathValue("nid")
	trackID := r.URL.Query().Get("trackId")
	s.mu.Lock()
	s.requests[OpFacility]++
	s.mu.Unlock()
	s.faults.Delay()

	if msg := s.authorize(r, wire.TokenTypeCC, finnotech.ScopeFacilityInquiry); msg != "" {
		writeRefusedToken(w, trackID, msg)
		return
	}
	if trackID == "" {
		// The seed: without a trackId, Finnotech makes up a UUID.
		trackID = uuid.NewString()
	}
	if !isValidTrackID(trackID) {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgBadTrackID)
		return
	}
	if !s.reserve(OpFacility, clientID, trackID) {
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgDuplicateTrackID)
		return
	}
	if !isDigits(nid, 10) && !isDigits(nid, 11) {
		s.finish(trackID, true, finnotech.CallFailed)
		writeFailure(w, http.StatusBadRequest, trackID, wire.CodeValidation, wire.MsgBadNationalID)
		return
	}
	s.answered(OpFacility, trackID)
	writeJSON(w, http.StatusOK, wire.Envelope[any]{Result: sandboxFacilities(nid), Status: wire.StatusDone, TrackID: trackID})
}

// answered records a read call DONE.
func (s *Sandbox) answered(op, trackID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[trackID].status = finnotech.CallDone
	s.applied[op]++
}

// Values of the sandbox's made-up facilities, as in the seed's sample.
const (
	sandboxFacilityName    = "کاربر آزمایشی" // test user
	sandboxFacilityStatus  = "جاری"          // current
	sandboxFacilityGroup   = "اصلي"          // main
	sandboxFacilityIRR     = "IRR"
	sandboxFacilityNoDate  = "0"
	sandboxFacilityType    = "18"
	sandboxFacilityReqType = "3"
)

// sandboxBanks are bank codes and names the sandbox's facilities are at.
var sandboxBanks = [...]struct{ code, name string }{
	{"14", "بانک مسکن"}, {"17", "بانک ملی"}, {"12", "بانک ملت"},
	{"62", "بانک آینده"}, {"54", "بانک پارسیان"}, {"57", "بانک پاسارگاد"},
}

// sandboxFacilities makes up the facility answer of nid.
func sandboxFacilities(nid string) any {
	if nid[len(nid)-1] == '0' {
		return wire.NoFacilityAnswer{Result: wire.NoFacilityResult, NID: nid, Message: wire.MsgNoFacility}
	}
	n := 1 + int(hash64(nid)%3)
	out := wire.FacilityAnswer{NID: nid, Name: sandboxFacilityName, FacilityDeferredTotalAmount: "0",
		FacilitySuspiciousTotalAmount: "0", FacilityList: make([]wire.FacilityAnswerItem, 0, n)}
	var total, debt, pastExpired int64
	for i := range n {
		h := hash64(nid + ":" + strconv.Itoa(i))
		bank := sandboxBanks[h%uint64(len(sandboxBanks))]
		branch := int(h>>8%100000) + 1
		original := int64(h>>24%400+10) * 1_000_000
		benefit := original * int64(10+h>>32%25) / 100
		debtor := (original + benefit) * int64(h>>40%101) / 100
		var expired int64
		if h>>48%5 == 0 {
			expired = debtor / 10
		}
		// Day 1–29 is in every Jalali month.
		setY, setM, setD := 1395+int(h>>52%8), 1+int(h>>56%12), 1+int(h%29)
		endY := setY + 1 + int(h>>60%5)
		total, debt, pastExpired = total+original, debt+debtor, pastExpired+expired

		amount := func(v int64) string { return strconv.FormatInt(v, 10) }
		out.FacilityList = append(out.FacilityList, wire.FacilityAnswerItem{
			BankCode:                  bank.code,
			BranchCode:                branch,
			BranchDescription:         fmt.Sprintf("%s - شعبه %d", bank.name, branch),
			PastExpiredAmount:         amount(expired),
			DeferredAmount:            "0",
			SuspiciousAmount:          "0",
			DebtorTotalAmount:         amount(debtor),
			Type:                      sandboxFacilityType,
			AmountOrginal:             amount(original),
			BenefitAmount:             amount(benefit),
			FacilityBankCode:          bank.code,
			FacilityBranchCode:        fmt.Sprintf("%05d", branch),
			FacilityBranch:            fmt.Sprintf("%s - شعبه %05d", bank.name, branch),
			FacilityRequestNo:         fmt.Sprintf("%05d%011d", branch, h%100_000_000_000),
			FacilityRequestType:       sandboxFacilityReqType,
			FacilityCurrencyCode:      sandboxFacilityIRR,
			FacilityPastExpiredAmount: amount(expired),
			FacilityDeferredAmount:    "0",
			FacilitySuspiciousAmount:  "0",
			FacilityDebtorTotalAmount: amount(debtor),
			FacilityType:              sandboxFacilityType,
			FacilityStatus:            sandboxFacilityStatus,
			FacilityAmountOrginal:     amount(original),
			FacilityBenefitAmount:     amount(benefit),
			FacilitySetDate:           fmt.Sprintf("%04d%02d%02d", setY, setM, setD),
			FacilityEndDate:           fmt.Sprintf("%04d%02d%02d", endY, setM, setD),
			FacilityAmountObligation:  "0",
			FacilityGroup:             sandboxFacilityGroup,
			FacilityMoratoriumDate:    sandboxFacilityNoDate,
		})
	}
	out.FacilityTotalAmount = strconv.FormatInt(total, 10)
	out.FacilityDebtTotalAmount = strconv.FormatInt(debt, 10)
	out.FacilityPastExpiredTotalAmount = strconv.FormatInt(pastExpired, 10)
	return out
}

// hash64 is FNV-1a of s.
func hash64(s string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(s))
	return h.Sum64()
}

// decodeJSONBody checks that a body is JSON and decodes it into v; it
// returns the VALIDATION_ERROR message, or "" when the body is good.
func decodeJSONBody(contentType string, body []byte, readErr error, v any) string {
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/json" {
		return wire.MsgBadContentType
	}
	if readErr != nil || json.Unmarshal(body, v) != nil {
		return wire.MsgBadBody
	}
	return ""
}
