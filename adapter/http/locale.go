package httpadapter

import (
	"golang.org/x/text/language"
)

// localeMatcher picks, from a request's Accept-Language, the best of the
// locales the service has mail templates for, by the BCP 47 matching of
// golang.org/x/text (de-CH finds de, a language with no templates finds
// the default). The first supported locale is the default.
type localeMatcher struct {
	tags    []string
	matcher language.Matcher
}

func newLocaleMatcher(supported []string) localeMatcher {
	if len(supported) == 0 {
		supported = []string{"en"}
	}
	tags := make([]language.Tag, 0, len(supported))
	for _, s := range supported {
		// The supported locales come from template directory names checked
		// at start; one the library cannot parse still gets an entry, so
		// indexes stay aligned, and it simply never matches.
		t, err := language.Parse(s)
		if err != nil {
			t = language.Und
		}
		tags = append(tags, t)
	}
	return localeMatcher{tags: supported, matcher: language.NewMatcher(tags)}
}

// match returns the supported locale that serves header best, or the
// default when it names none of them (or is absent or malformed).
func (m localeMatcher) match(header string) string {
	if header == "" {
		return m.tags[0]
	}
	prefs, _, err := language.ParseAcceptLanguage(header)
	if err != nil || len(prefs) == 0 {
		return m.tags[0]
	}
	_, i, conf := m.matcher.Match(prefs...)
	if conf == language.No || i < 0 || i >= len(m.tags) {
		return m.tags[0]
	}
	return m.tags[i]
}
