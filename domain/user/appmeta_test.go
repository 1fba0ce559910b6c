package user

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// The stored form is the compact encoding with sorted keys, so equal
// objects compare equal; empty is none; over 4 KiB is refused naming the
// field; the JSON form is the object itself ({} for none) and reads back.
func TestAppMetadata(t *testing.T) {
	m, err := NewAppMetadata("appMetadata", map[string]any{"tenant": "acme", "plan": "pro", "seats": 5})
	if err != nil || m != `{"plan":"pro","seats":5,"tenant":"acme"}` {
		t.Fatalf("NewAppMetadata = %q, %v", m, err)
	}
	if none, err := NewAppMetadata("appMetadata", map[string]any{}); none != "" || err != nil {
		t.Errorf("empty object = %q, %v; want none", none, err)
	}
	_, err = NewAppMetadata("appMetadata", map[string]any{"x": strings.Repeat("a", MaxAppMetadata)})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Fields[0].Field != "appMetadata" {
		t.Errorf("over 4 KiB: %v", err)
	}

	out, err := json.Marshal(struct {
		A AppMetadata `json:"a"`
		B AppMetadata `json:"b"`
	}{m, ""})
	if err != nil || string(out) != `{"a":{"plan":"pro","seats":5,"tenant":"acme"},"b":{}}` {
		t.Fatalf("JSON = %s, %v", out, err)
	}
	for in, want := range map[string]AppMetadata{`{ "plan" : "pro" }`: `{"plan":"pro"}`, `{}`: "", `null`: ""} {
		var got AppMetadata
		if err := json.Unmarshal([]byte(in), &got); err != nil || got != want {
			t.Errorf("read %s = %q, %v; want %q", in, got, err, want)
		}
	}
	var got AppMetadata
	if err := json.Unmarshal([]byte(`[1]`), &got); err == nil {
		t.Error("a list read as appMetadata")
	}
}
