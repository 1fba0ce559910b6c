package e2e

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// stepTimeout bounds every single browser step; testTimeout the whole browser.
const (
	stepTimeout = 15 * time.Second
	testTimeout = 2 * time.Minute
)

// newBrowser starts a headless Chromium with a fresh profile for this test and
// returns its context; it is closed when the test ends. Tabs made from the context
// share the browser's cookies, as tabs of one user do.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	requireBrowser(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(browserPath),
		chromedp.Headless,
		chromedp.NoSandbox, // root in containers and CI
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
		// Nothing but the pages under test may cause traffic.
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("no-pings", true),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browserCtx, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(browserCtx); err != nil { // starts the browser
		t.Fatalf("start %s: %v", browserPath, err)
	}
	return browserCtx
}

// tab is one browser tab with what it logged.
type tab struct {
	t    *testing.T
	name string
	ctx  context.Context
	rec  *recorder
}

// newTab opens a tab (in its own window, so that it is never hidden and its timers
// run) in the browser of browserCtx. On a failed test its screenshot and console are
// saved before it closes.
func newTab(t *testing.T, browserCtx context.Context, name string) *tab {
	t.Helper()
	rec := &recorder{cookies: map[network.RequestID]string{}}
	ctx, cancel := chromedp.NewContext(browserCtx, chromedp.WithListener(rec.listen))
	tb := &tab{t: t, name: name, ctx: ctx, rec: rec}
	if err := chromedp.Do(ctx); err != nil { // opens the tab
		cancel()
		t.Fatalf("open tab %s: %v", name, err)
	}
	console := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range console {
			if err != nil {
				return
			}
			rec.add(fmt.Sprintf("console %s %s:%d %s", m.Type, m.URL, m.Line+1, m))
		}
	}()
	t.Cleanup(func() {
		if t.Failed() {
			tb.saveArtifacts()
		}
		cancel()
		<-done
	})
	return tb
}

// saveArtifacts writes a full-page screenshot (or, when that fails, one of the
// viewport) and the console log of the tab.
func (tb *tab) saveArtifacts() {
	for _, shot := range []struct {
		capture chromedp.Action[[]byte]
		timeout time.Duration
	}{{chromedp.FullScreenshot(100), 10 * time.Second}, {chromedp.CaptureScreenshot(), 5 * time.Second}} {
		ctx, cancel := context.WithTimeout(tb.ctx, shot.timeout)
		png, err := chromedp.Run(ctx, shot.capture)
		cancel()
		if err == nil {
			saveArtifact(tb.t, tb.name+".png", png)
			break
		}
		tb.rec.add("screenshot failed: " + err.Error())
	}
	time.Sleep(100 * time.Millisecond) // let the console iterator deliver the last lines
	saveArtifact(tb.t, tb.name+"-console.log", []byte(strings.Join(tb.rec.lines(), "\n")+"\n"))
}

// screenshot saves a full-page PNG under test-artifacts/screenshots/ when
// E2E_SCREENSHOTS is set: pictures of a passing run, for people to look at. The
// file is named <test>-<name>.png.
func (tb *tab) screenshot(name string) {
	tb.screenshotOf(name, chromedp.FullScreenshot(100))
}

// screenshotOf is screenshot with another capture, such as the viewport only.
func (tb *tab) screenshotOf(name string, shot chromedp.Action[[]byte]) {
	if os.Getenv("E2E_SCREENSHOTS") == "" {
		return
	}
	name = tb.t.Name() + "-" + name
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, shot)
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	dir := filepath.Join(moduleRoot, "test-artifacts", "screenshots")
	err = os.MkdirAll(dir, 0o755)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		tb.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	tb.t.Logf("saved %s", filepath.Join(dir, name+".png"))
}

// artifactDir is test-artifacts/e2e/<test name>/ at the module root.
func artifactDir(t *testing.T) string {
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	return filepath.Join(moduleRoot, "test-artifacts", "e2e", name)
}

func saveArtifact(t *testing.T, name string, data []byte) {
	dir := artifactDir(t)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("artifacts: %v", err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Logf("artifacts: %v", err)
		return
	}
	t.Logf("saved %s", path)
}

// do runs steps in the tab within stepTimeout and fails the test on an error.
func (tb *tab) do(steps ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.t.Fatalf("tab %s: %v", tb.name, err)
	}
}

// navigate loads url and waits for the load event.
func (tb *tab) navigate(u string) {
	tb.t.Helper()
	tb.do(chromedp.Navigate(u))
}

// submitCredentials types email and password into the example app's
// sign-in form and presses button: "login-submit" or "register-submit".
func (tb *tab) submitCredentials(button, email, password string) {
	tb.t.Helper()
	tb.do(
		chromedp.SendKeys(chromedp.ID("login-email"), email),
		chromedp.SendKeys(chromedp.ID("login-password"), password),
		chromedp.Click(chromedp.ID(button)),
	)
}

// signIn opens the example app at appURL signed out, submits email and
// password with button (as submitCredentials), and waits until the app is
// signed in and idle.
func (tb *tab) signIn(appURL, button, email, password string) {
	tb.t.Helper()
	tb.navigate(appURL)
	tb.waitJS(`document.body.dataset.state === "logged-out"`)
	tb.submitCredentials(button, email, password)
	tb.waitJS(`document.body.dataset.state === "logged-in"` + idle)
}

// evalE evaluates a JavaScript expression (awaiting a promise) in the tab.
func evalE[T any](ctx context.Context, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, stepTimeout)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// eval is evalE that fails the test on an error.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	v, err := evalE[T](tb.ctx, expr)
	if err != nil {
		tb.t.Fatalf("tab %s: evaluate %s: %v", tb.name, expr, err)
	}
	return v
}

// waitJS waits until the expression is truthy in the page.
func (tb *tab) waitJS(expr string) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
	if err != nil {
		tb.t.Fatalf("tab %s: waiting for %s: %v", tb.name, expr, err)
	}
}

// cookies returns the browser's cookies for rawURL, HttpOnly ones included (the
// DevTools protocol sees what page scripts cannot).
func (tb *tab) cookies(rawURL string) []*network.Cookie {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{rawURL}})
	if err != nil {
		tb.t.Fatalf("tab %s: get cookies: %v", tb.name, err)
	}
	return res.Cookies
}

// throttle gives the tab's requests to urlPattern (URLPattern syntax, absolute) a
// latency, as a slow network would: the request leaves with the cookies of the
// moment it is sent, and its answer comes latency later.
func (tb *tab) throttle(urlPattern string, latency time.Duration) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, stepTimeout)
	defer cancel()
	_, err := chromedp.Call(ctx, network.EmulateNetworkConditionsByRule, network.EmulateNetworkConditionsByRuleParams{
		MatchedNetworkConditions: []*network.Conditions{{
			URLPattern: urlPattern, Latency: float64(latency.Milliseconds()),
			DownloadThroughput: -1, UploadThroughput: -1,
		}},
	})
	if err != nil {
		tb.t.Fatalf("tab %s: throttle %s: %v", tb.name, urlPattern, err)
	}
}

func findCookie(cookies []*network.Cookie, name string) *network.Cookie {
	i := slices.IndexFunc(cookies, func(c *network.Cookie) bool { return c.Name == name })
	if i < 0 {
		return nil
	}
	return cookies[i]
}

// recorder keeps what a tab did: console lines, failed loads and every request.
type recorder struct {
	mu       sync.Mutex
	log      []string
	requests []request
	// cookies holds the refresh_token value each request carried.
	cookies map[network.RequestID]string
}

type request struct {
	id     network.RequestID
	method string
	url    string
	at     time.Time
}

// listen runs in the tab's event loop: it must be quick and send no command.
func (r *recorder) listen(ev any) {
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		r.mu.Lock()
		r.requests = append(r.requests, request{id: ev.RequestID, method: ev.Request.Method, url: ev.Request.URL, at: time.Now()})
		r.log = append(r.log, fmt.Sprintf("%s request %s %s", stamp(), ev.Request.Method, ev.Request.URL))
		r.mu.Unlock()
	case *network.EventRequestWillBeSentExtraInfo:
		for _, c := range ev.AssociatedCookies {
			if c.Cookie != nil && c.Cookie.Name == "refresh_token" && len(c.BlockedReasons) == 0 {
				r.mu.Lock()
				r.cookies[ev.RequestID] = c.Cookie.Value
				r.mu.Unlock()
			}
		}
	case *network.EventResponseReceived:
		r.add(fmt.Sprintf("response %d %s", ev.Response.Status, ev.Response.URL))
	case *network.EventLoadingFailed:
		reason := ev.ErrorText
		if ev.BlockedReason != "" {
			reason += " blocked:" + string(ev.BlockedReason)
		}
		if ev.CorsErrorStatus != nil {
			reason += fmt.Sprintf(" cors:%s %s", ev.CorsErrorStatus.CorsError, ev.CorsErrorStatus.FailedParameter)
		}
		r.add("loading failed: " + reason)
	}
}

func stamp() string { return time.Now().Format("15:04:05.000") }

func (r *recorder) add(line string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, stamp()+" "+line)
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

func (r *recorder) allRequests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// refreshCookiesSince returns the refresh_token values that the POST /auth/refresh
// requests sent after since carried, in order.
func (r *recorder) refreshCookiesSince(since time.Time) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, q := range r.requests {
		u, err := url.Parse(q.url)
		if err != nil || q.method != "POST" || u.Path != "/auth/refresh" || q.at.Before(since) {
			continue
		}
		out = append(out, r.cookies[q.id])
	}
	return out
}
