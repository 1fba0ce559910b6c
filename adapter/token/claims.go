package token

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"time"

	"github.com/gatehouse/gatehouse/domain/user"
)

// maxNumericDate is 9999-12-31T23:59:59Z. Later or negative dates are
// refused: no token of ours carries them, and the bound keeps the
// conversion to time.Time away from overflow.
const maxNumericDate = 253402300799

// issuedClaims is the payload Issue writes. Times are NumericDate: whole
// seconds since the epoch (RFC 7519 section 2).
type issuedClaims struct {
	Issuer    string   `json:"iss"`
	Subject   string   `json:"sub"`
	Audience  string   `json:"aud"`
	SessionID string   `json:"sid"`
	ID        string   `json:"jti"`
	IssuedAt  int64    `json:"iat"`
	NotBefore int64    `json:"nbf"`
	ExpiresAt int64    `json:"exp"`
	AuthTime  int64    `json:"auth_time"`
	Fresh     bool     `json:"fresh"`
	Methods   []string `json:"amr,omitempty"`
	AAL       string   `json:"aal,omitempty"`
	Roles     []string `json:"roles,omitempty"`
	IdP       string   `json:"idp,omitempty"`
	// AppMetadata is the administrators' object, left out when empty.
	AppMetadata user.AppMetadata `json:"app_metadata,omitempty"`
}

// parsedClaims is the payload Verify reads. Dates remember whether they
// were present, so required claims can be enforced.
type parsedClaims struct {
	Issuer    string      `json:"iss"`
	Subject   string      `json:"sub"`
	Audience  audience    `json:"aud"`
	SessionID string      `json:"sid"`
	ID        string      `json:"jti"`
	IssuedAt  numericDate `json:"iat"`
	NotBefore numericDate `json:"nbf"`
	ExpiresAt numericDate `json:"exp"`
	AuthTime  numericDate `json:"auth_time"`
	Fresh     bool        `json:"fresh"`
	Methods   []string    `json:"amr"`
	AAL       string      `json:"aal"`
	Roles     []string    `json:"roles"`
	IdP       string      `json:"idp"`
}

// numericDate is an RFC 7519 NumericDate as read from a token.
type numericDate struct {
	unix int64
	set  bool
}

// UnmarshalJSON accepts a JSON number of seconds since the epoch. Issue
// writes integers; fractions are legal in RFC 7519 and are floored. A JSON
// null leaves the date unset.
func (d *numericDate) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	if n, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		if n < 0 || n > maxNumericDate {
			return errors.New("NumericDate out of range")
		}
		d.unix, d.set = n, true
		return nil
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || !(f >= 0 && f <= maxNumericDate) {
		return errors.New("NumericDate is not a number in range")
	}
	d.unix, d.set = int64(math.Floor(f)), true
	return nil
}

// time returns the date in UTC.
func (d numericDate) time() time.Time {
	return time.Unix(d.unix, 0).UTC()
}

// audience is the "aud" claim: a single string as Issue writes it, or an
// array of strings, which RFC 7519 section 4.1.3 also allows. The single
// case is kept apart from the array so the common path allocates only the
// string itself.
type audience struct {
	one  string
	many []string
}

// UnmarshalJSON accepts a string or an array of strings.
func (a *audience) UnmarshalJSON(b []byte) error {
	if len(b) >= 2 && b[0] == '"' {
		// The decoder has already validated the string literal; without
		// escapes its bytes between the quotes are the value, which spares
		// a nested decode on the hot path.
		if inner := b[1 : len(b)-1]; bytes.IndexByte(inner, '\\') < 0 {
			a.one = string(inner)
			return nil
		}
		return json.Unmarshal(b, &a.one)
	}
	return json.Unmarshal(b, &a.many)
}

// contains reports whether want is one of the audiences, compared exactly.
func (a audience) contains(want string) bool {
	if a.one != "" {
		return a.one == want
	}
	for _, v := range a.many {
		if v == want {
			return true
		}
	}
	return false
}
