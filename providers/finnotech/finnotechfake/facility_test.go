package finnotechfake

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/blockd/blockd/providers"
	"github.com/blockd/blockd/providers/finnotech"
	"github.com/blockd/blockd/providers/finnotech/internal/wire"
	"github.com/blockd/blockd/providers/jalali"
	"github.com/blockd/blockd/providers/providertest"
)

func TestSandboxFacility(t *testing.T) {
	f := newTokenFixture(t, Config{})
	ctx := context.Background()
	inquire := func(t *testing.T, nid string) finnotech.FacilityResponse {
		t.Helper()
		got, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nid)
		if err != nil {
			t.Fatalf("FacilityInquiry(%s): %v", nid, err)
		}
		return got
	}

	seen := map[int]bool{}
	for i := range 30 {
		nid := strconv.Itoa(1_000_000_001 + 7*i) // 10 digits, ending in 1..9 or 0
		got := inquire(t, nid).Result
		if nid[9] == '0' {
			if !got.NoFacility || got.Facilities == nil || len(got.Facilities) != 0 || got.Message != wire.MsgNoFacility {
				t.Errorf("nid ending in 0: result %+v, want no facility", got)
			}
			continue
		}
		n := len(got.Facilities)
		seen[n] = true
		if got.NoFacility || n < 1 || n > 3 {
			t.Fatalf("nid %s: %d facilities (NoFacility %v), want 1-3", nid, n, got.NoFacility)
		}
		var total, debt int64
		for _, f := range got.Facilities {
			sum, fc := f.Summary, f.Contract
			if sum == nil || fc == nil {
				t.Fatalf("nid %s: facility %+v, want both families", nid, f)
			}
			// The sandbox's totals are the sums of the plain family, as in
			// the seed's example.
			total += sum.AmountOriginal
			debt += sum.DebtorTotalAmount
			if fc.AmountOriginal <= 0 || fc.BenefitAmount <= 0 || fc.Currency != "IRR" || fc.Status != sandboxFacilityStatus ||
				len(fc.BranchCode) != 5 || fc.RequestNo == "" {
				t.Errorf("nid %s: facility %+v, want positive amounts, IRR, a 5-digit branch code", nid, fc)
			}
			for _, d := range []struct{ raw, greg string }{{fc.SetDate, fc.SetDateGregorian}, {fc.EndDate, fc.EndDateGregorian}} {
				jd, err := jalali.Parse(d.raw)
				if err != nil || d.greg != jd.Time().Format(time.DateOnly) || len(d.greg) != 10 {
					t.Errorf("nid %s: date %q converted to %q, want its Gregorian day (%v)", nid, d.raw, d.greg, err)
				}
			}
			if fc.EndDate <= fc.SetDate {
				t.Errorf("nid %s: end %s not after set %s", nid, fc.EndDate, fc.SetDate)
			}
		}
		if got.TotalAmount != total || got.DebtTotalAmount != debt {
			t.Errorf("nid %s: totals %d/%d, want the sums %d/%d", nid, got.TotalAmount, got.DebtTotalAmount, total, debt)
		}
		if got.NationalID != nid {
			t.Errorf("NationalID = %q, want %q", got.NationalID, nid)
		}
	}
	if !seen[1] || !seen[2] || !seen[3] {
		t.Errorf("facility counts seen %v, want 1, 2 and 3", seen)
	}

	// The same nid gets the same answer; 11-digit legal ids are accepted.
	a, b := inquire(t, nationalID), inquire(t, nationalID)
	providertest.JSONEqual(t, a.Result, b.Result)
	if got := inquire(t, "10101010101").Result; got.NoFacility {
		t.Errorf("11-digit id: %+v, want facilities", got)
	}
	if got := inquire(t, "0071331960").Result; !got.NoFacility {
		t.Errorf("nid ending in 0: %+v, want no facility", got)
	}
	for _, nid := range []string{"007133195", "007133195123", "1"} {
		_, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nid)
		wantError(t, err, providers.Permanent, wire.CodeValidation, http.StatusBadRequest)
	}
	if got := f.sandbox.TokensIssued(); got != 1 {
		t.Errorf("TokensIssued = %d, want 1 (one client-credential token, cached)", got)
	}
}

func TestSandboxFacilityAnswerShape(t *testing.T) {
	f := newFixture(t, Config{}, "tok")
	status, env := f.rawCall(t, http.MethodGet, "/credit/v2/clients/app-1/users/"+nationalID+"/facilityInquiry?trackId=f-1", "Bearer cc-tok", "", "")
	if status != 200 || env.Status != wire.StatusDone {
		t.Fatalf("HTTP %d %+v, want 200 DONE", status, env)
	}
	var raw struct {
		FacilityTotalAmount json.RawMessage `json:"facilityTotalAmount"`
		FacilityList        []struct {
			BranchCode            json.RawMessage `json:"branchCode"`
			FacilityAmountOrginal json.RawMessage `json:"FacilityAmountOrginal"`
			AmountOrginal         json.RawMessage `json:"amountOrginal"`
		} `json:"facilityList"`
	}
	if err := json.Unmarshal(env.Result, &raw); err != nil {
		t.Fatalf("decoding %s: %v", env.Result, err)
	}
	if raw.FacilityTotalAmount[0] != '"' || len(raw.FacilityList) == 0 {
		t.Fatalf("answer %s, want string amounts and facilities", env.Result)
	}
	for _, it := range raw.FacilityList {
		if it.BranchCode[0] == '"' || it.FacilityAmountOrginal[0] != '"' || it.AmountOrginal[0] != '"' {
			t.Errorf("facility %s %s %s: want branchCode a number and amounts strings", it.BranchCode, it.FacilityAmountOrginal, it.AmountOrginal)
		}
	}

	// Without a trackId, the sandbox makes one up.
	status, env = f.rawCall(t, http.MethodGet, "/credit/v2/clients/app-1/users/0071331960/facilityInquiry", "Bearer cc-tok", "", "")
	if status != 200 || len(env.TrackID) != 36 || !strings.Contains(string(env.Result), `"result":120`) {
		t.Errorf("HTTP %d, trackId %q, result %s; want 200, a UUID and result 120", status, env.TrackID, env.Result)
	}
}

func TestSandboxFacilityNeedsClientCredential(t *testing.T) {
	f := newTokenFixture(t, Config{})
	ctx := context.Background()

	// The authorization-code token of the oak calls is refused.
	ac := finnotech.NewClient(finnotech.ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(), Tokens: sameTokens(seedToken)})
	_, err := ac.FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID)
	// A live token of the wrong kind is a refusal, not a dead token.
	pe := wantError(t, err, providers.Permanent, wire.CodeForbidden, http.StatusForbidden)
	if pe.Message != wire.MsgTokenNotForService {
		t.Errorf("Message = %q, want %q", pe.Message, wire.MsgTokenNotForService)
	}

	// A client-credential token without the scope is refused.
	other, err := f.tokens.ClientCredential(ctx, "oak:iban-inquiry:get")
	if err != nil {
		t.Fatalf("ClientCredential: %v", err)
	}
	_, err = finnotech.NewClient(finnotech.ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(), Tokens: sameTokens(other)}).FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID)
	wantError(t, err, providers.Permanent, wire.CodeForbidden, http.StatusForbidden)

	// And a client-credential token is refused by the oak calls.
	right, err := f.tokens.ClientCredential(ctx, finnotech.ScopeFacilityInquiry)
	if err != nil {
		t.Fatalf("ClientCredential: %v", err)
	}
	_, err = finnotech.NewClient(finnotech.ClientConfig{BaseURL: f.server.URL, HTTPClient: f.server.Client(), Tokens: sameTokens(right)}).Block(ctx, "app-1", newTrackID(t), finnotech.BlockRequest{Amount: 1, Description: "d", Days: 1})
	wantError(t, err, providers.Permanent, wire.CodeForbidden, http.StatusForbidden)

	// Tokens picks the right one.
	if _, err := f.client.FacilityInquiry(ctx, "app-1", newTrackID(t), nationalID); err != nil {
		t.Errorf("FacilityInquiry through Tokens: %v", err)
	}
}
