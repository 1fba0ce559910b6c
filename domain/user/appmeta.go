package user

import "encoding/json"

// MaxAppMetadata is the largest appMetadata, as compact JSON (4 KiB).
const MaxAppMetadata = 4096

// CheckAppMetadata applies the appMetadata rule: a JSON object of at most
// MaxAppMetadata bytes when encoded. It returns the compact encoding (empty
// for an empty or nil object, which clears it), for stores to keep.
func CheckAppMetadata(field string, m map[string]any) (string, error) {
	if len(m) == 0 {
		return "", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", Invalid(field, "must be a JSON object")
	}
	if len(b) > MaxAppMetadata {
		return "", Invalid(field, "must be at most 4 KiB as JSON")
	}
	return string(b), nil
}

// ParseAppMetadata reads what CheckAppMetadata returned; nil for empty.
func ParseAppMetadata(s string) (map[string]any, error) {
	if s == "" || s == "{}" {
		return nil, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		return nil, err
	}
	return m, nil
}
