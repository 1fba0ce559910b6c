package user

import (
	"bytes"
	"encoding/json"
	"errors"
)

// MaxAppMetadata is the largest appMetadata, as compact JSON (4 KiB).
const MaxAppMetadata = 4096

// AppMetadata is the administrators' JSON object about an account, held as
// its compact encoding ("" when none). It goes into every access token as
// it is, so a refresh neither parses nor re-encodes it; only NewAppMetadata
// makes one, so it is always a checked object.
type AppMetadata string

// NewAppMetadata applies the appMetadata rule to m: a JSON object of at
// most MaxAppMetadata bytes when encoded. An empty or nil object is no
// metadata (""), which clears it.
func NewAppMetadata(field string, m map[string]any) (AppMetadata, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m) // compact, keys sorted: equal objects are equal strings
	if err != nil {
		return "", Invalid(field, "must be a JSON object")
	}
	if len(b) > MaxAppMetadata {
		return "", Invalid(field, "must be at most 4 KiB as JSON")
	}
	return AppMetadata(b), nil
}

// MarshalJSON writes the object as stored, {} when there is none.
func (a AppMetadata) MarshalJSON() ([]byte, error) {
	if a == "" {
		return []byte("{}"), nil
	}
	return []byte(a), nil
}

// UnmarshalJSON reads an object back, kept compact; null and {} are none.
func (a *AppMetadata) UnmarshalJSON(b []byte) error {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return err
	}
	switch c := buf.String(); {
	case c == "null" || c == "{}":
		*a = ""
	case c[0] != '{':
		return errors.New("appMetadata: want a JSON object")
	default:
		*a = AppMetadata(c)
	}
	return nil
}
