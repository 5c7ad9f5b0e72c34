package finnotech_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	. "github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/finnotechfake"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/providertest"
	"github.com/blockd/blockd/schemas"
)

// seedFacilityAnswer is the successful answer of Finnotech's facility
// inquiry page (finnotech/doc.go, "Facility inquiry"), as printed there.
const seedFacilityAnswer = `{ "result": { "nid": "007133195" , "name": "امیر قریشی مقدم" , "facilityTotalAmount": "324921522" , "facilityDebtTotalAmount": "101017180" , "facilityPastExpiredTotalAmount": "0" , "facilityDeferredTotalAmount": "0" , "facilitySuspiciousTotalAmount": "0" , "dishonored": "" , "facilityList": [ { "bankCode": "14" , "branchCode": "91182" , "branchDescription": "بانک مسکن - مسکن - تهران - پارک دانشجوتهران" , "pastExpiredAmount": "0" , "deferredAmount": "0" , "suspiciousAmount": "0" , "debtorTotalAmount": "101017180" , "type": "18" , "amountOrginal": "180000000" , "benefitAmount": "101017180" , "FacilityBankCode": "14" , "FacilityBranchCode": "02159" , "FacilityBranch": "بانک مسکن - شهیدنامجوی تهران" , "FacilityRequestNo": "0215997049192414" , "FacilityRequestType": "3" , "FacilityCurrencyCode": "IRR" , "FacilityPastExpiredAmount": "0" , "FacilityDeferredAmount": "0" , "FacilitySuspiciousAmount": "0" , "FacilityDebtorTotalAmount": "1151155953" , "FacilityType": "18" , "FacilityStatus": "جاری" , "FacilityAmountOrginal": "600000000" , "FacilityBenefitAmount": "752873056" , "FacilitySetDate": "13970430" , "FacilityEndDate": "14090430" , "FacilityAmountObligation": "0" , "FacilityGroup": "اصلي" , "FacilityMoratoriumDate": "0" } ]} , "status": "DONE" , "trackId": "getfacility213454" }`

// seedNoFacilityAnswer is the seed's "no facility" answer.
const seedNoFacilityAnswer = `{ "result": { "result": 120 , "nid": "007133196" , "message": "هیچ تسهیلات و تعهدی یافت نشد" } , "status": "DONE" , "trackId": "getfacility002" }`

const nationalID = "0071331951"

func TestFacilitySeedAnswer(t *testing.T) {
	cs := newCannedServer(t, 200, seedFacilityAnswer)
	tokens := &recordingTokens{tok: "ac-token", cc: "cc-token"}
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: tokens})
	got, err := c.FacilityInquiry(context.Background(), "app-1", "getfacility213454", nationalID)
	if err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}
	// Both per-loan families of the seed, each under its own name: the
	// plain one ("summary"), whose debtorTotalAmount is what the totals
	// add up, and the Facility-prefixed one ("contract").
	b, _ := json.Marshal(got.Result)
	sameJSON(t, b, `{"nationalId":"`+nationalID+`","name":"امیر قریشی مقدم","noFacility":false,
		"totalAmount":324921522,"debtTotalAmount":101017180,"pastExpiredTotalAmount":0,"deferredTotalAmount":0,"suspiciousTotalAmount":0,
		"facilities":[{
			"summary":{"bankCode":"14","branchCode":"91182","branchDescription":"بانک مسکن - مسکن - تهران - پارک دانشجوتهران","type":"18",
				"amountOriginal":180000000,"benefitAmount":101017180,"debtorTotalAmount":101017180,"pastExpiredAmount":0,"deferredAmount":0,"suspiciousAmount":0},
			"contract":{"bankCode":"14","branchCode":"02159","branch":"بانک مسکن - شهیدنامجوی تهران","requestNo":"0215997049192414","requestType":"3",
				"currency":"IRR","type":"18","status":"جاری","group":"اصلي","amountOriginal":600000000,"benefitAmount":752873056,
				"debtorTotalAmount":1151155953,"pastExpiredAmount":0,"deferredAmount":0,"suspiciousAmount":0,"obligationAmount":0,
				"setDate":"13970430","endDate":"14090430","setDateGregorian":"2018-07-21","endDateGregorian":"2030-07-21","moratoriumDate":"0"}
		}]}`)
	if got.TrackID != "getfacility213454" {
		t.Errorf("TrackID = %q, want getfacility213454", got.TrackID)
	}

	r, _ := cs.last()
	if r.Method != http.MethodGet || r.URL.Path != "/credit/v2/clients/app-1/users/"+nationalID+"/facilityInquiry" ||
		r.URL.Query().Get("trackId") != "getfacility213454" {
		t.Errorf("request %s %s, want GET /credit/v2/clients/app-1/users/%s/facilityInquiry?trackId=getfacility213454", r.Method, r.URL, nationalID)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer cc-token" {
		t.Errorf("Authorization = %q, want the client-credential token", got)
	}
	if len(tokens.asked) != 1 || len(tokens.asked[0]) != 1 || tokens.asked[0][0] != ScopeFacilityInquiry {
		t.Errorf("client-credential scopes asked = %q, want [[%s]]", tokens.asked, ScopeFacilityInquiry)
	}
}

// TestFacilitySeedTotals: in the seed's example the debt total is the sum
// of the plain family's debtorTotalAmount, not of the Facility-prefixed
// one's; the result keeps that visible.
func TestFacilitySeedTotals(t *testing.T) {
	cs := newCannedServer(t, 200, seedFacilityAnswer)
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
	got, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
	if err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}
	var res struct {
		DebtTotalAmount int64 `json:"debtTotalAmount"`
		Facilities      []struct {
			Summary  struct{ DebtorTotalAmount int64 } `json:"summary"`
			Contract struct{ DebtorTotalAmount int64 } `json:"contract"`
		} `json:"facilities"`
	}
	b, _ := json.Marshal(got.Result)
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	var summary, contract int64
	for _, f := range res.Facilities {
		summary, contract = summary+f.Summary.DebtorTotalAmount, contract+f.Contract.DebtorTotalAmount
	}
	if summary != res.DebtTotalAmount || summary != 101017180 || contract != 1151155953 {
		t.Errorf("debt total %d, summary family sums to %d, contract family to %d; want 101017180 = 101017180, and 1151155953",
			res.DebtTotalAmount, summary, contract)
	}
}

func TestFacilityNoFacility(t *testing.T) {
	tests := []struct {
		name, body, wantMessage string
	}{
		{"seed answer 120", seedNoFacilityAnswer, wire.MsgNoFacility},
		{"120 as a string", `{"result":{"result":"120","nid":"007133196"},"status":"DONE","trackId":"t"}`, ""},
		{"no facilityList", `{"result":{"nid":"007133196","name":"x","facilityTotalAmount":"0"},"status":"DONE","trackId":"t"}`, ""},
		{"empty facilityList", `{"result":{"nid":"007133196","facilityList":[]},"status":"DONE","trackId":"t"}`, ""},
		{"null facilityList", `{"result":{"nid":"007133196","facilityList":null},"status":"DONE","trackId":"t"}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs := newCannedServer(t, 200, tc.body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			got, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
			if err != nil {
				t.Fatalf("FacilityInquiry: %v", err)
			}
			if !got.Result.NoFacility || got.Result.Facilities == nil || len(got.Result.Facilities) != 0 {
				t.Errorf("result = %+v, want NoFacility with an empty, non-nil list", got.Result)
			}
			if got.Message != tc.wantMessage {
				t.Errorf("Message = %q, want %q", got.Message, tc.wantMessage)
			}
			b, _ := json.Marshal(got.Result)
			if !strings.Contains(string(b), `"facilities":[]`) || !strings.Contains(string(b), `"noFacility":true`) {
				t.Errorf("result JSON %s, want noFacility true and facilities []", b)
			}
			var msg struct {
				Message *string `json:"message"`
			}
			if err := json.Unmarshal(b, &msg); err != nil || (tc.wantMessage != "") != (msg.Message != nil) ||
				msg.Message != nil && *msg.Message != tc.wantMessage {
				t.Errorf("result JSON %s, want message %q", b, tc.wantMessage)
			}
		})
	}
}

func TestFacilityLenientDecoding(t *testing.T) {
	item := func(fields string) string {
		return `{"result":{"nid":"1","facilityTotalAmount":` + "%TOTAL%" + `,"facilityList":[{` + fields + `}]},"status":"DONE","trackId":"t"}`
	}
	const zeros = `"pastExpiredAmount":0,"deferredAmount":0,"suspiciousAmount":0`
	tests := []struct {
		name  string
		total string
		item  string
		want  string // the facility's JSON
	}{
		{"amounts as strings, branchCode a number", `"100"`,
			`"bankCode":"14","branchCode":91182,"amountOrginal":"180000000","benefitAmount":"5","debtorTotalAmount":"7"`,
			`{"summary":{"bankCode":"14","branchCode":"91182","amountOriginal":180000000,"benefitAmount":5,"debtorTotalAmount":7,` + zeros + `}}`},
		{"amounts as numbers, codes as numbers", `100`,
			`"FacilityBankCode":14,"FacilityBranchCode":2159,"FacilityAmountOrginal":600000000,"FacilityBenefitAmount":752873056,"FacilityDebtorTotalAmount":1151155953,"FacilityType":18,"FacilityRequestNo":215997049192414`,
			`{"contract":{"bankCode":"14","branchCode":"2159","requestNo":"215997049192414","type":"18","amountOriginal":600000000,` +
				`"benefitAmount":752873056,"debtorTotalAmount":1151155953,` + zeros + `,"obligationAmount":0}}`},
		{"large amounts stay exact", `"9007199254740993"`,
			`"FacilityAmountOrginal":"9007199254740993","FacilityBenefitAmount":9007199254740993`,
			`{"contract":{"amountOriginal":9007199254740993,"benefitAmount":9007199254740993,"debtorTotalAmount":0,` + zeros + `,"obligationAmount":0}}`},
		{"plain fields only", `"100"`,
			`"bankCode":"17","branchCode":"00012","branchDescription":"شعبه","pastExpiredAmount":"1","deferredAmount":"2","suspiciousAmount":"3","debtorTotalAmount":"4","type":"5","amountOrginal":"6","benefitAmount":"7"`,
			`{"summary":{"bankCode":"17","branchCode":"00012","branchDescription":"شعبه","type":"5","amountOriginal":6,"benefitAmount":7,` +
				`"debtorTotalAmount":4,"pastExpiredAmount":1,"deferredAmount":2,"suspiciousAmount":3}}`},
		{"both families kept apart, a zero included", `"100"`,
			`"pastExpiredAmount":"9","FacilityPastExpiredAmount":"0","bankCode":"17","FacilityBankCode":"14"`,
			`{"summary":{"bankCode":"17","amountOriginal":0,"benefitAmount":0,"debtorTotalAmount":0,"pastExpiredAmount":9,"deferredAmount":0,"suspiciousAmount":0},` +
				`"contract":{"bankCode":"14","amountOriginal":0,"benefitAmount":0,"debtorTotalAmount":0,` + zeros + `,"obligationAmount":0}}`},
		{"empty values are not sent", `"100"`,
			`"branchCode":"91182","FacilityBranchCode":"","debtorTotalAmount":"8","FacilityDebtorTotalAmount":""`,
			`{"summary":{"branchCode":"91182","amountOriginal":0,"benefitAmount":0,"debtorTotalAmount":8,` + zeros + `}}`},
		{"null values", `null`,
			`"bankCode":null,"FacilityAmountOrginal":null,"amountOrginal":"5"`,
			`{"summary":{"amountOriginal":5,"benefitAmount":0,"debtorTotalAmount":0,` + zeros + `}}`},
		{"correct spelling read too", `"100"`,
			`"FacilityAmountOriginal":"11"`,
			`{"contract":{"amountOriginal":11,"benefitAmount":0,"debtorTotalAmount":0,` + zeros + `,"obligationAmount":0}}`},
		{"dates converted, raw kept", `"100"`,
			`"FacilitySetDate":"13950101","FacilityEndDate":14031229`,
			`{"contract":{"amountOriginal":0,"benefitAmount":0,"debtorTotalAmount":0,` + zeros + `,"obligationAmount":0,` +
				`"setDate":"13950101","endDate":"14031229","setDateGregorian":"2016-03-20","endDateGregorian":"2025-03-19"}}`},
		{"unusable dates kept raw only", `"100"`,
			`"FacilitySetDate":"0","FacilityEndDate":"13971340","FacilityMoratoriumDate":"0"`,
			`{"contract":{"amountOriginal":0,"benefitAmount":0,"debtorTotalAmount":0,` + zeros + `,"obligationAmount":0,` +
				`"setDate":"0","endDate":"13971340","moratoriumDate":"0"}}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			body := strings.Replace(item(tc.item), "%TOTAL%", tc.total, 1)
			cs := newCannedServer(t, 200, body)
			c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
			got, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
			if err != nil {
				t.Fatalf("FacilityInquiry: %v", err)
			}
			if got.Result.NoFacility || len(got.Result.Facilities) != 1 {
				t.Fatalf("result = %+v, want one facility", got.Result)
			}
			b, _ := json.Marshal(got.Result.Facilities[0])
			sameJSON(t, b, tc.want)
			wantTotal, _ := strconv.ParseInt(strings.Trim(tc.total, `"`), 10, 64)
			if got.Result.TotalAmount != wantTotal {
				t.Errorf("TotalAmount = %d, want %d", got.Result.TotalAmount, wantTotal)
			}
		})
	}
}

func TestFacilityUnreadable(t *testing.T) {
	for _, body := range []string{
		`{"result":{"facilityTotalAmount":"1.5","facilityList":[]},"status":"DONE"}`,
		`{"result":{"facilityTotalAmount":1.5},"status":"DONE"}`,
		`{"result":{"facilityList":[{"FacilityAmountOrginal":"12a"}]},"status":"DONE"}`,
		`{"result":{"facilityList":[{"FacilityBankCode":true}]},"status":"DONE"}`,
	} {
		cs := newCannedServer(t, 200, body)
		c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
		_, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
		wantError(t, err, providers.Unknown, CodeUnreadableResponse, http.StatusOK)
		if err != nil && strings.Contains(err.Error(), nationalID) {
			t.Errorf("error %q holds the national id", err)
		}
	}
}

func TestFacilityDeadClientCredential(t *testing.T) {
	cs := newCannedServer(t, 403, `{"status":"FAILED","trackId":"t","error":{"code":"UNAUTHORIZED","message":"x"}}`)
	tokens := &recordingTokens{tok: "ac", cc: "cc"}
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: tokens})
	_, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
	wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)
	if len(tokens.ccInvalidated) != 1 || tokens.ccInvalidated[0][0] != ScopeFacilityInquiry {
		t.Errorf("client-credential invalidated %q, want [[%s]]", tokens.ccInvalidated, ScopeFacilityInquiry)
	}
	if got := tokens.Invalidated(); len(got) != 0 {
		t.Errorf("authorization-code tokens invalidated %q, want none", got)
	}
}

// TestFacilityNeverUsesTheCustomersToken: the facility inquiry asks the
// TokenSource for a client-credential token, never for a clientId's.
func TestFacilityNeverUsesTheCustomersToken(t *testing.T) {
	cs := newCannedServer(t, 200, seedNoFacilityAnswer)
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("static")})
	if _, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID); err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}
	if r, _ := cs.last(); r.Header.Get("Authorization") != "Bearer cc-static" {
		t.Errorf("Authorization = %q, want Bearer cc-static", r.Header.Get("Authorization"))
	}
}

func TestFacilityNationalIDNeverInErrors(t *testing.T) {
	t.Run("not digits: nothing sent", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		for _, nid := range []string{"", "00713319/1", "..", "0071331951 "} {
			_, err := f.client.FacilityInquiry(context.Background(), "app-1", newTrackID(t), nid)
			wantError(t, err, providers.Permanent, CodeBadRequest, 0)
		}
		if n := f.sandbox.Requests(finnotechfake.OpFacility); n != 0 {
			t.Errorf("Requests(facility) = %d, want 0", n)
		}
	})
	t.Run("transport error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c := NewClient(ClientConfig{BaseURL: url, Tokens: finnotechfake.StaticToken("tok")})
		_, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
		wantError(t, err, providers.Retryable, "", 0)
		if strings.Contains(err.Error(), nationalID) {
			t.Errorf("error %q holds the national id", err)
		}
		if !strings.Contains(err.Error(), "********51") {
			t.Errorf("error %q does not show the masked national id", err)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
		t.Cleanup(hang.Close)
		c := NewClient(ClientConfig{BaseURL: hang.URL, HTTPClient: hang.Client(), Tokens: finnotechfake.StaticToken("tok")})
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		defer cancel()
		_, err := c.FacilityInquiry(ctx, "app-1", "t", nationalID)
		wantError(t, err, providers.Unknown, "", 0)
		if strings.Contains(err.Error(), nationalID) {
			t.Errorf("error %q holds the national id", err)
		}
	})
	t.Run("refused by the sandbox", func(t *testing.T) {
		f := newFixture(t, finnotechfake.Config{}, "tok")
		_, err := f.client.FacilityInquiry(context.Background(), "app-1", newTrackID(t), "007133195")
		pe := wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
		if pe.Message != wire.MsgBadNationalID || strings.Contains(err.Error(), "007133195") {
			t.Errorf("error %q, want %q without the national id", err, wire.MsgBadNationalID)
		}
	})
}

// TestFacilityClientCredentialExpiry: the sandbox refuses an expired
// client-credential token that Tokens still thinks fresh; the token is
// dropped and the next attempt gets a new one.
func TestFacilityClientCredentialExpiry(t *testing.T) {
	sandboxClock := newTestClock()
	f := newTokenFixture(t, finnotechfake.Config{Now: sandboxClock.Now, CCTokenLifetime: time.Hour}, TokensConfig{})
	ctx := context.Background()
	if _, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID); err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}
	sandboxClock.Advance(2 * time.Hour)
	_, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID)
	wantError(t, err, providers.Retryable, CodeTokenExpired, http.StatusForbidden)
	if _, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID); err != nil {
		t.Fatalf("FacilityInquiry after the refusal: %v", err)
	}
	if got := f.sandbox.TokensIssued(); got != 2 {
		t.Errorf("TokensIssued = %d, want 2", got)
	}
}

func TestAdapterFacility(t *testing.T) {
	f := newTokenFixture(t, finnotechfake.Config{}, TokensConfig{})
	a := NewAdapter(f.client)
	for _, nid := range []string{nationalID, "0071331960"} {
		cmd := schemas.Command{Kind: schemas.KindInquiry, TrackID: "fac-1", Provider: schemas.ProviderFinnotech,
			Inquiry: InquiryFacility, ClientID: "blockd-sandbox", NationalID: nid}
		raw, err := a.Execute(context.Background(), providers.Request{Command: cmd, ProviderTrackID: newTrackID(t)})
		if err != nil {
			t.Fatalf("Execute(facility %s): %v", nid, err)
		}
		var got schemas.FinnotechFacilityResult
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("decoding %s: %v", raw, err)
		}
		direct, err := f.client.FacilityInquiry(context.Background(), "blockd-sandbox", newTrackID(t), nid)
		if err != nil {
			t.Fatalf("FacilityInquiry: %v", err)
		}
		providertest.JSONEqual(t, got, direct.Result)
		if nid == "0071331960" && !strings.Contains(string(raw), `"facilities":[]`) {
			t.Errorf("result %s, want facilities []", raw)
		}
	}
}

// TestFacilityExampleIsTheSeed: the facility result example in
// schemas/examples is what the client makes of the seed's answer.
func TestFacilityExampleIsTheSeed(t *testing.T) {
	raw, err := os.ReadFile("../../schemas/examples/result.facility.json")
	if err != nil {
		t.Fatal(err)
	}
	var example struct {
		Result json.RawMessage `json:"result"`
	}
	if err := json.Unmarshal(raw, &example); err != nil {
		t.Fatalf("decoding the example: %v", err)
	}
	cs := newCannedServer(t, 200, seedFacilityAnswer)
	c := NewClient(ClientConfig{BaseURL: cs.URL, HTTPClient: cs.Client(), Tokens: finnotechfake.StaticToken("tok")})
	got, err := c.FacilityInquiry(context.Background(), "app-1", "t", nationalID)
	if err != nil {
		t.Fatalf("FacilityInquiry: %v", err)
	}
	b, _ := json.Marshal(got.Result)
	sameJSON(t, b, string(example.Result))
}
