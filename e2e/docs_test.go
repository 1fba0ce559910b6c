package e2e

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestDocsTryItOut loads /docs in Chromium: Swagger UI must render our spec with
// nothing fetched from any host but 127.0.0.1, and "Try it out" on POST /auth/login
// must log a registered user in.
func TestDocsTryItOut(t *testing.T) {
	requireBrowser(t)
	srv := startServer(t, freePort(t), nil)
	email := uniqueEmail("docs")
	srv.register(t, email, password)
	b := newBrowser(t)

	docs := newTab(t, b, "docs")
	docs.navigate(srv.URL + "/docs")
	docs.do(chromedp.WaitVisible(chromedp.CSS(".swagger-ui .info .title")))
	title := eval[string](docs, `document.querySelector(".swagger-ui .info .title").textContent`)
	if !strings.Contains(title, "Gatehouse") {
		t.Errorf("Swagger UI title %q, want it to contain Gatehouse", title)
	}
	docs.screenshotOf("top", chromedp.CaptureScreenshot())

	// The page opens on the endpoints: the long prose is folded under a short
	// introduction, so the first operation is on the first screen.
	folded := eval[int](docs, `document.querySelectorAll(".swagger-ui .info details:not([open])").length`)
	if folded < 3 {
		t.Errorf("%d folded sections in the introduction, want the long prose folded", folded)
	}
	docs.do(chromedp.WaitVisible(chromedp.CSS(".swagger-ui .opblock")))
	if top := eval[float64](docs, `document.querySelector(".swagger-ui .opblock").getBoundingClientRect().top / window.innerHeight`); top > 1 {
		t.Errorf("the first operation starts %.1f screens down", top)
	}

	// Expand POST /auth/login (Swagger UI ids operations by tag and operationId).
	const op = "#operations-Auth-login"
	docs.do(
		chromedp.Click(chromedp.CSS(op+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(op+" .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(op+" textarea.body-param__text")),
	)
	// The textarea is a React input: set its value the way React notices (the native
	// setter, then an input event), not by assigning .value.
	body, err := json.Marshal(map[string]string{"email": email, "password": password})
	if err != nil {
		t.Fatal(err)
	}
	docs.do(chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		const set = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, "value").set;
		set.call(el, %q);
		el.dispatchEvent(new Event("input", { bubbles: true }));
	})()`, op+" textarea.body-param__text", string(body))))
	docs.do(chromedp.Click(chromedp.CSS(op + " .execute")))
	docs.waitJS(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === "200"`,
		op+" .live-responses-table .response .response-col_status"))
	resp := eval[string](docs, fmt.Sprintf(`document.querySelector(%q).textContent`,
		op+" .live-responses-table .response .response-col_description"))
	if !strings.Contains(resp, `"accessToken"`) || !strings.Contains(resp, email) {
		t.Errorf("the live response does not show a token pair for %s:\n%s", email, resp)
	}
	if os.Getenv("E2E_SCREENSHOTS") != "" {
		docs.do(chromedp.ScrollIntoView(chromedp.CSS(op + " textarea.body-param__text")))
		docs.screenshotOf("login-try-it-out", chromedp.CaptureScreenshot())
	}

	// "Try it out" on POST /auth/refresh works as prefilled: the example body
	// leaves the token to the cookie the login above set.
	const refreshOp = "#operations-Auth-refresh"
	docs.do(
		chromedp.Click(chromedp.CSS(refreshOp+" .opblock-summary-control")),
		chromedp.Click(chromedp.CSS(refreshOp+" .try-out__btn")),
		chromedp.WaitVisible(chromedp.CSS(refreshOp+" textarea.body-param__text")),
		chromedp.Click(chromedp.CSS(refreshOp+" .execute")),
	)
	docs.waitJS(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent === "200"`,
		refreshOp+" .live-responses-table .response .response-col_status"))
	resp = eval[string](docs, fmt.Sprintf(`document.querySelector(%q).textContent`,
		refreshOp+" .live-responses-table .response .response-col_description"))
	if !strings.Contains(resp, `"Token refreshed"`) {
		t.Errorf("prefilled refresh did not refresh:\n%s", resp)
	}

	// The page ran clean: no script error, no resource blocked (by the CSP, say).
	for _, line := range docs.rec.lines() {
		if containsAny(line, "console error", "console exception", "loading failed") {
			t.Errorf("docs page: %s", line)
		}
	}

	// Nothing left 127.0.0.1: every request the tab made went to the service.
	requests := docs.rec.allRequests()
	if len(requests) < 5 {
		t.Errorf("only %d requests recorded; the network listener is not working", len(requests))
	}
	for _, r := range requests {
		u, err := url.Parse(r.url)
		if err != nil {
			t.Errorf("request to an unparsable URL %q", r.url)
			continue
		}
		if u.Scheme == "data" || u.Scheme == "blob" {
			continue // in-page, no network
		}
		if u.Hostname() != "127.0.0.1" {
			t.Errorf("request left 127.0.0.1: %s %s", r.method, r.url)
		}
	}
}
