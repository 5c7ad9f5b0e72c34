package wire

import (
	"encoding/json"
	"reflect"
	"testing"
)

// TestFacilityAnswerReadsBack: every field of the answer the fake writes
// is read by FacilityResult, under the same name.
func TestFacilityAnswerReadsBack(t *testing.T) {
	item := FacilityAnswerItem{BranchCode: 91182}
	v := reflect.ValueOf(&item).Elem()
	for i := range v.NumField() {
		if f := v.Field(i); f.Kind() == reflect.String {
			f.SetString("7")
		}
	}
	answer := FacilityAnswer{NID: "0071331951", Name: "n", FacilityTotalAmount: "1", FacilityDebtTotalAmount: "2",
		FacilityPastExpiredTotalAmount: "3", FacilityDeferredTotalAmount: "4", FacilitySuspiciousTotalAmount: "5",
		Dishonored: "6", FacilityList: []FacilityAnswerItem{item}}
	b, err := json.Marshal(answer)
	if err != nil {
		t.Fatalf("encoding: %v", err)
	}
	var got FacilityResult
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	// Every field but the ones only other senders fill: result and message
	// of the "no facility" answer, the corrected spelling amountOriginal.
	unsent := map[string]bool{"Result": true, "Message": true, "AmountOriginal": true, "FacilityAmountOriginal": true}
	checkSet := func(what string, v reflect.Value) {
		for i := range v.NumField() {
			name := v.Type().Field(i).Name
			if !unsent[name] && name != "FacilityList" && v.Field(i).IsZero() {
				t.Errorf("%s.%s is not read from %s", what, name, b)
			}
		}
	}
	checkSet("FacilityResult", reflect.ValueOf(got))
	if len(got.FacilityList) != 1 {
		t.Fatalf("got %d facilities, want 1", len(got.FacilityList))
	}
	checkSet("FacilityItem", reflect.ValueOf(got.FacilityList[0]))

	var none FacilityResult
	b, _ = json.Marshal(NoFacilityAnswer{Result: NoFacilityResult, NID: "0071331960", Message: MsgNoFacility})
	if err := json.Unmarshal(b, &none); err != nil || none.Result.V != NoFacilityResult || none.Message != MsgNoFacility {
		t.Errorf("no-facility answer %s read as %+v (%v)", b, none, err)
	}
}

func TestWrittenAsTheSeedShowsThem(t *testing.T) {
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"days a string", BlockResult{Amount: LenientInt{V: 1, Set: true}, Days: 12}, `{"amount":1,"description":"","deposit":"","blockDate":"","days":"12"}`},
		{"inquiry amount a number", TransferInquiryResult{Status: "DONE", Amount: LenientInt{V: 5, Set: true}}, `{"status":"DONE","amount":5}`},
		{"inquiry without amount", TransferInquiryResult{Status: "FAILED"}, `{"status":"FAILED"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.v)
			if err != nil || string(b) != tc.want {
				t.Errorf("got %s (%v), want %s", b, err, tc.want)
			}
		})
	}
	var r BlockResult
	if err := json.Unmarshal([]byte(`{"days":12}`), &r); err != nil || r.Days != 12 {
		t.Errorf("days as a number: got %d (%v), want 12", r.Days, err)
	}
}
