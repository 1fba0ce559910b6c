package user_test

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse/gatehouse/domain/user"
)

func TestNormalizeEmail(t *testing.T) {
	local64 := strings.Repeat("l", 64)
	// 64 + 1 + 189 = 254 bytes, the longest address allowed.
	longest := local64 + "@" + strings.Repeat("d", 185) + ".com"
	tests := []struct {
		name string
		in   string
		want string // "" means rejected
	}{
		{"plain", "ada@example.com", "ada@example.com"},
		{"upper case folded", "Ada.Lovelace@Example.COM", "ada.lovelace@example.com"},
		{"surrounding space trimmed", "  \tada@example.com\r\n ", "ada@example.com"},
		{"plus and subdomain kept", "ada+tag@mail.example.co.uk", "ada+tag@mail.example.co.uk"},
		{"unicode lower-cased", "ÄDA@ÉXAMPLE.CO", "äda@éxample.co"},
		{"local part of 64 bytes", local64 + "@b.co", local64 + "@b.co"},
		{"254 bytes", longest, longest},

		{"empty", "", ""},
		{"only spaces", "   ", ""},
		{"no at", "ada.example.com", ""},
		{"empty local part", "@example.com", ""},
		{"empty domain", "ada@", ""},
		{"domain without dot", "ada@localhost", ""},
		{"two ats", "ada@lovelace@example.com", ""},
		{"double at", "ada@@example.com", ""},
		{"domain starts with dot", "ada@.example.com", ""},
		{"domain ends with dot", "ada@example.com.", ""},
		{"consecutive dots in domain", "ada@example..com", ""},
		{"inner space", "ada lovelace@example.com", ""},
		{"space in domain", "ada@exa mple.com", ""},
		{"angle brackets", "<ada@example.com>", ""},
		{"display name form", "Ada <ada@example.com>", ""},
		{"comma list", "ada@example.com,bob@example.com", ""},
		{"semicolon", "ada;x@example.com", ""},
		{"quoted local part", `"ada"@example.com`, ""},
		{"backslash", `ada\x@example.com`, ""},
		{"NUL byte", "ada\x00@example.com", ""},
		{"control character", "ada\x1b@example.com", ""},
		{"invalid UTF-8", "ada\xff@example.com", ""},
		{"local part of 65 bytes", local64 + "l@b.co", ""},
		{"255 bytes", local64 + "@" + strings.Repeat("d", 186) + ".com", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := user.NormalizeEmail(tc.in)
			if tc.want == "" {
				if ok {
					t.Fatalf("NormalizeEmail(%q) = %q, accepted; want rejected", tc.in, got)
				}
				if got != "" {
					t.Fatalf("NormalizeEmail(%q) rejected but returned %q; want empty", tc.in, got)
				}
				return
			}
			if !ok || got != tc.want {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want %q, true", tc.in, got, ok, tc.want)
			}
		})
	}
}

// The same mailbox written differently is one account.
func TestNormalizeEmailIsIdempotentAndCaseInsensitive(t *testing.T) {
	a, okA := user.NormalizeEmail("A@B.co")
	b, okB := user.NormalizeEmail(" a@b.CO ")
	if !okA || !okB || a != b {
		t.Fatalf("A@B.co -> %q, %v; ' a@b.CO ' -> %q, %v; want one address", a, okA, b, okB)
	}
	again, ok := user.NormalizeEmail(a)
	if !ok || again != a {
		t.Fatalf("normalizing %q again gave %q, %v", a, again, ok)
	}
}

// fieldOf returns the single field of a *user.ValidationError, failing the
// test if err is anything else.
func fieldOf(t *testing.T, err error) user.FieldError {
	t.Helper()
	var ve *user.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v (%T) is not a *user.ValidationError", err, err)
	}
	if len(ve.Fields) != 1 {
		t.Fatalf("validation error has fields %+v; want exactly one", ve.Fields)
	}
	if ve.Fields[0].Message == "" {
		t.Fatalf("field %q has no message", ve.Fields[0].Field)
	}
	return ve.Fields[0]
}

func TestCheckPassword(t *testing.T) {
	const email = "ada.lovelace@example.com"
	tests := []struct {
		name     string
		password string
		email    string
		ok       bool
	}{
		{"7 characters", "abcdefg", email, false},
		{"8 characters", "abcdefgq", email, true},
		{"128 characters", strings.Repeat("ab", 64), email, true},
		{"129 characters", strings.Repeat("a", 129), email, false},
		{"empty", "", email, false},
		{"pässwörd is 8 characters (10 bytes)", "pässwörd", email, true},
		{"pässwör is 7 characters (9 bytes)", "pässwör", email, false},
		{"8 emoji (32 bytes)", strings.Repeat("😀🔑", 4), email, true},
		{"7 emoji (28 bytes)", strings.Repeat("😀", 7), email, false},
		{"128 emoji (512 bytes)", strings.Repeat("🔑😀", 64), email, true},
		{"129 two-byte characters", strings.Repeat("é", 129), email, false},
		{"128 characters then more is not truncated", strings.Repeat("a", 128) + "b", email, false},
		{"spaces count", "a b c d ", email, true},
		{"equal to the email", email, email, false},
		{"equal to the email in other case", "Ada.Lovelace@Example.COM", email, false},
		{"equal to the email with surrounding spaces", "  " + email + " ", email, false},
		{"contains the email but is longer", email + "!", email, true},
		{"no email to compare with", email, "", true},
		// Issue 10 item 5: NIST 800-63B 3.1.1.2, ASVS 6.2.4.
		{"a breached password", "password", email, false},
		{"a breached password in other case", "PassWord1", email, false},
		{"eight digits", "12345678", email, false},
		{"eight spaces", "        ", email, false},
		{"one character repeated", strings.Repeat("é", 20), email, false},
		{"the local part of the email", "ada.lovelace", email, false},
		{"the local part in other case", "Ada.Lovelace", email, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := user.CheckPassword("newPassword", tc.password, tc.email)
			if tc.ok {
				if err != nil {
					t.Fatalf("CheckPassword(%q) (%d chars) = %v; want nil", tc.password, utf8.RuneCountInString(tc.password), err)
				}
				return
			}
			if err == nil {
				t.Fatalf("CheckPassword(%q) (%d chars) = nil; want a validation error", tc.password, utf8.RuneCountInString(tc.password))
			}
			if f := fieldOf(t, err); f.Field != "newPassword" {
				t.Fatalf("error names field %q; want the field passed in, newPassword", f.Field)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // "" means rejected
	}{
		{"plain", "Ada", "Ada"},
		{"trimmed", "  Ada Lovelace \n", "Ada Lovelace"},
		{"one character", "A", "A"},
		{"unicode", "Zoë Ñúñez 🚀", "Zoë Ñúñez 🚀"},
		{"100 characters", strings.Repeat("n", 100), strings.Repeat("n", 100)},
		{"100 two-byte characters (200 bytes)", strings.Repeat("é", 100), strings.Repeat("é", 100)},
		{"100 characters after trimming", "  " + strings.Repeat("n", 100) + "  ", strings.Repeat("n", 100)},

		{"empty", "", ""},
		{"only spaces", "   \t ", ""},
		{"101 characters", strings.Repeat("n", 101), ""},
		{"101 emoji", strings.Repeat("🚀", 101), ""},
		{"NUL", "Ada\x00", ""},
		{"inner newline", "Ada\nLovelace", ""},
		{"inner tab", "Ada\tLovelace", ""},
		{"escape sequence", "Ada\x1b[31m", ""},
		{"DEL", "Ada\x7f", ""},
		{"C1 control", "Ada\u0085Lovelace", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := user.NormalizeName(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeName(%q) = %q, nil; want a validation error", tc.in, got)
				}
				if f := fieldOf(t, err); f.Field != "name" {
					t.Fatalf("error names field %q; want name", f.Field)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q, nil", tc.in, got, err, tc.want)
			}
		})
	}
}

func TestValidationErrorMessageListsEveryField(t *testing.T) {
	err := &user.ValidationError{Fields: []user.FieldError{
		{Field: "email", Message: "must be a valid email address"},
		{Field: "password", Message: "must be at least 8 characters"},
	}}
	msg := err.Error()
	for _, want := range []string{"email: must be a valid email address", "password: must be at least 8 characters"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Error() = %q; want it to contain %q", msg, want)
		}
	}
	var ve *user.ValidationError
	if !errors.As(user.Invalid("name", "x"), &ve) || ve.Fields[0] != (user.FieldError{Field: "name", Message: "x"}) {
		t.Fatalf("Invalid(name, x) = %#v", ve)
	}
}

// TestCheckNewAccount: a new account's fields are normalized together, and
// every failing field is named in one answer.
func TestCheckNewAccount(t *testing.T) {
	email, name, err := user.CheckNewAccount("  Ada@Example.COM ", "correct-Horse-battery-9", "  Ada  ")
	if err != nil || email != "ada@example.com" || name != "Ada" {
		t.Fatalf("CheckNewAccount = %q, %q, %v", email, name, err)
	}
	if _, name, err := user.CheckNewAccount("ada@example.com", "correct-Horse-battery-9", ""); err != nil || name != "" {
		t.Fatalf("without a name: %q, %v", name, err)
	}
	_, _, err = user.CheckNewAccount("not an address", "short", "\x01")
	var ve *user.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("bad fields: %v", err)
	}
	var fields []string
	for _, f := range ve.Fields {
		fields = append(fields, f.Field)
	}
	if strings.Join(fields, ",") != "email,password,name" {
		t.Fatalf("failing fields %v; want email, password and name", fields)
	}
}

func TestCheckLocale(t *testing.T) {
	supported := []string{"de", "en", "pt-BR"}
	for raw, want := range map[string]string{"de": "de", "EN": "en", " pt-br ": "pt-BR"} {
		if got, err := user.CheckLocale("locale", raw, supported); err != nil || got != want {
			t.Errorf("%q: %q %v", raw, got, err)
		}
	}
	for _, raw := range []string{"", "fr", "de-AT", "e"} {
		_, err := user.CheckLocale("locale", raw, supported)
		var ve *user.ValidationError
		if !errors.As(err, &ve) || ve.Fields[0].Field != "locale" || ve.Fields[0].Message != "must be one of: de, en, pt-BR" {
			t.Errorf("%q: %v", raw, err)
		}
	}
}
