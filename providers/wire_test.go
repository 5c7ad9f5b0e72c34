package providers

import (
	"encoding/json"
	"testing"
)

func TestFlexInt(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr bool
	}{
		{`1`, 1, false},
		{`"1"`, 1, false},
		{`"12"`, 12, false},
		{`" 12 "`, 12, false},
		{`0`, 0, false},
		{`-5`, -5, false},
		{`null`, 0, false},
		{`9223372036854775807`, 9223372036854775807, false},
		{`"9223372036854775807"`, 9223372036854775807, false},
		{`9223372036854775808`, 0, true},
		{`1.5`, 0, true},
		{`1.0`, 0, true},
		{`1e3`, 0, true},
		{`"1.5"`, 0, true},
		{`"abc"`, 0, true},
		{`""`, 0, true},
		{`true`, 0, true},
		{`[1]`, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			var got struct {
				N FlexInt `json:"n"`
			}
			err := json.Unmarshal([]byte(`{"n":`+tc.in+`}`), &got)
			if tc.wantErr {
				if err == nil {
					t.Errorf("decoding %s = %d, want an error", tc.in, got.N)
				}
				return
			}
			if err != nil {
				t.Fatalf("decoding %s: %v", tc.in, err)
			}
			if int64(got.N) != tc.want {
				t.Errorf("decoding %s = %d, want %d", tc.in, got.N, tc.want)
			}
		})
	}
}
