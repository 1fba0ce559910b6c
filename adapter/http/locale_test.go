package httpadapter

import "testing"

// Registration's locale is the best supported match of Accept-Language,
// the default when nothing matches or the header is absent or malformed.
func TestLocaleMatcher(t *testing.T) {
	m := newLocaleMatcher([]string{"en", "de", "pt-BR"})
	for header, want := range map[string]string{
		"":                            "en",
		"de":                          "de",
		"de-CH":                       "de",
		"DE-at;q=0.9":                 "de",
		"fr-FR, de;q=0.8, en;q=0.5":   "de",
		"fr-FR, en;q=0.8, de;q=0.5":   "en",
		"pt-BR,pt;q=0.9":              "pt-BR",
		"pt-PT":                       "pt-BR",
		"zh-CN":                       "en",
		"*":                           "en",
		"not a ; language = header,,": "en",
	} {
		if got := m.match(header); got != want {
			t.Errorf("%q: %q, want %q", header, got, want)
		}
	}
	if got := newLocaleMatcher(nil).match("de"); got != "en" {
		t.Errorf("no supported locales: %q", got)
	}
}
