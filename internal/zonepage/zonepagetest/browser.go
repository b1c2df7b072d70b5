// Package zonepagetest owns the browser-test helper of the zone page: it
// starts Debian's headless Chromium, drives it over the DevTools protocol
// (chromedp), waits for elements and JavaScript conditions, collects the
// page's console errors and uncaught exceptions, and saves screenshots as
// test artifacts. zonepage's own browser test uses it with a fake Model;
// the end-to-end test of cmd/rfidgw can use it against the real daemon fed
// by `rfidgw sim`:
//
//	b := zonepagetest.Start(t)             // skips when Chromium is absent
//	if err := b.Navigate(url); err != nil { t.Fatal(err) }
//	if err := b.WaitVisible(`[data-reader="dock-1"][data-connected="true"]`, 10*time.Second); err != nil { t.Fatal(err) }
//	b.Screenshot("zone-page.png")          // into $RFIDGW_ARTIFACTS or t.TempDir()
//
// StartShared gives each test a tab in one browser per test binary (start
// it once, stop it with Main from TestMain), which saves seconds per test
// on a loaded machine.
package zonepagetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// DefaultChromium is where Debian's chromium package puts the browser.
const DefaultChromium = "/usr/bin/chromium"

// DefaultTimeout bounds one Browser action that takes no timeout of its own.
const DefaultTimeout = 15 * time.Second

// ChromiumPath returns the browser to run: $RFIDGW_CHROMIUM if set, else
// DefaultChromium.
func ChromiumPath() string {
	if p := os.Getenv("RFIDGW_CHROMIUM"); p != "" {
		return p
	}
	return DefaultChromium
}

// ArtifactDir returns where tests write artifacts (screenshots): the
// directory $RFIDGW_ARTIFACTS (created if missing) or else t.TempDir().
func ArtifactDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("RFIDGW_ARTIFACTS"); d != "" {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatalf("RFIDGW_ARTIFACTS=%s: %v", d, err)
		}
		return d
	}
	return t.TempDir()
}

// Options adjust Start; the zero value is a 1400x1000 laptop window.
type Options struct {
	Width, Height int // window size in CSS pixels; default 1400x1000
}

// Browser is one headless Chromium with one tab, closed at the end of the
// test.
type Browser struct {
	t   testing.TB
	ctx context.Context // the tab; every action runs on a child of it

	mu     sync.Mutex
	errors []string // console errors and uncaught exceptions
	dir    string   // artifact directory, chosen on first use
}

// Start launches Chromium with a new empty profile and opens a tab. It skips
// the test when the browser is not installed, and fails it when the browser
// does not start. Everything is stopped in t.Cleanup.
func Start(t testing.TB, opts ...Options) *Browser {
	t.Helper()
	path := skipWithoutChromium(t)
	o := Options{Width: 1400, Height: 1000}
	if len(opts) > 0 {
		if opts[0].Width > 0 {
			o.Width = opts[0].Width
		}
		if opts[0].Height > 0 {
			o.Height = opts[0].Height
		}
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), allocatorOptions(path, t.TempDir(), o)...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithErrorf(func(format string, args ...any) {
		t.Logf("chromedp: "+format, args...)
	}))
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	if err := startTab(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return newBrowser(t, ctx)
}

// shared is the browser of StartShared, one per test binary.
var shared struct {
	once   sync.Once
	ctx    context.Context // the browser's first tab, which holds it open
	cancel context.CancelFunc
	dir    string
	err    error
}

// StartShared opens a new tab in a browser shared by the tests of one test
// binary (1400x1000 window), started on first use: starting Chromium is the
// slow part of a browser test, and on a loaded machine several seconds.
// The tab is closed in t.Cleanup; call Main from TestMain to stop the
// browser at the end. It skips like Start.
func StartShared(t testing.TB) *Browser {
	t.Helper()
	path := skipWithoutChromium(t)
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "zonepagetest-profile-")
		if err != nil {
			shared.err = err
			return
		}
		shared.dir = dir
		allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
			allocatorOptions(path, dir, Options{Width: 1400, Height: 1000})...)
		ctx, cancelTab := chromedp.NewContext(allocCtx)
		shared.ctx = ctx
		shared.cancel = func() { cancelTab(); cancelAlloc() }
		shared.err = startTab(ctx)
	})
	if shared.err != nil {
		t.Fatalf("starting %s: %v", path, shared.err)
	}
	ctx, cancelTab := chromedp.NewContext(shared.ctx)
	t.Cleanup(cancelTab)
	if err := startTab(ctx); err != nil {
		t.Fatalf("opening a tab in %s: %v", path, err)
	}
	return newBrowser(t, ctx)
}

// Main runs the tests and then stops the shared browser; use it as
//
//	func TestMain(m *testing.M) { os.Exit(zonepagetest.Main(m)) }
func Main(m *testing.M) int {
	code := m.Run()
	if shared.cancel != nil {
		shared.cancel()
	}
	if shared.dir != "" {
		os.RemoveAll(shared.dir)
	}
	return code
}

func skipWithoutChromium(t testing.TB) string {
	t.Helper()
	path := ChromiumPath()
	if _, err := exec.LookPath(path); err != nil {
		t.Skipf("browser test needs Chromium at %s (Debian: apt-get install -y chromium; or set RFIDGW_CHROMIUM): %v", path, err)
	}
	return path
}

func allocatorOptions(path, profile string, o Options) []chromedp.ExecAllocatorOption {
	// Without the background-networking, component-update and sync flags
	// Chromium tries to reach Google's servers, and on a machine without
	// internet its own connections (also to 127.0.0.1) get refused.
	return []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox, // tests run as root in CI; the sandbox refuses root
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(o.Width, o.Height),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("force-color-profile", "srgb"),
		chromedp.Flag("hide-scrollbars", true),
	}
}

// startTab runs the first action on ctx, which starts the browser or opens
// the tab and binds it to ctx: it must not carry a timeout, or the tab
// would die with it, so the wait is bounded here instead.
func startTab(ctx context.Context) error {
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		return err
	case <-time.After(60 * time.Second):
		return errors.New("no answer in 60s")
	}
}

func newBrowser(t testing.TB, ctx context.Context) *Browser {
	b := &Browser{t: t, ctx: ctx}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return // the tab closed
			}
			if m.IsException() || m.Type == "error" {
				b.mu.Lock()
				b.errors = append(b.errors, fmt.Sprintf("%s:%d: %s", m.URL, m.Line+1, m.String()))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

// Context is the tab's context, for chromedp actions the helper lacks.
func (b *Browser) Context() context.Context { return b.ctx }

// Errors returns the console errors and uncaught exceptions seen so far.
func (b *Browser) Errors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.errors...)
}

func (b *Browser) do(timeout time.Duration, what string, actions ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(b.ctx, timeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: not done within %v: %w", what, timeout, err)
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Navigate loads url and waits for the page's load event.
func (b *Browser) Navigate(url string) error {
	return b.do(DefaultTimeout, "navigating to "+url, chromedp.Navigate(url))
}

// WaitVisible waits until an element matching the CSS selector is visible.
func (b *Browser) WaitVisible(css string, timeout time.Duration) error {
	return b.do(timeout, "waiting for "+css+" to be visible", chromedp.WaitVisible(chromedp.CSS(css)))
}

// WaitGone waits until no element matches the CSS selector.
func (b *Browser) WaitGone(css string, timeout time.Duration) error {
	return b.do(timeout, "waiting for "+css+" to be gone", chromedp.WaitNotPresent(chromedp.CSS(css)))
}

// WaitTrue waits until the JavaScript expression is truthy in the page.
func (b *Browser) WaitTrue(expr string, timeout time.Duration) error {
	return b.do(timeout, "waiting for "+expr, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
}

// Click clicks the first element matching the CSS selector, once visible.
func (b *Browser) Click(css string) error {
	return b.do(DefaultTimeout, "clicking "+css, chromedp.Click(chromedp.CSS(css), chromedp.NodeVisible))
}

// Type replaces the text of the input matching the CSS selector as a user
// would: it empties the field (firing an input event) and then types text
// as key events, so the page's input listeners run.
func (b *Browser) Type(css, text string) error {
	sel, _ := json.Marshal(css)
	clear := chromedp.Evaluate[chromedp.Void](`(e => { e.focus(); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); })(document.querySelector(` + string(sel) + `))`)
	actions := []chromedp.Action[chromedp.Void]{chromedp.WaitVisible(chromedp.CSS(css)), clear}
	if text != "" {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(css), text, chromedp.NodeVisible))
	}
	return b.do(DefaultTimeout, "typing into "+css, actions...)
}

// Eval evaluates a JavaScript expression and decodes its JSON value into T.
func Eval[T any](b *Browser, expr string) (T, error) {
	ctx, cancel := context.WithTimeout(b.ctx, DefaultTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		return v, fmt.Errorf("evaluating %s: %w", expr, err)
	}
	return v, nil
}

// Text returns the visible text of the first element matching the selector.
func (b *Browser) Text(css string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, DefaultTimeout)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css), chromedp.NodeVisible))
	if err != nil {
		return "", fmt.Errorf("text of %s: %w", css, err)
	}
	return s, nil
}

// Screenshot saves a PNG of the whole page as name in ArtifactDir, logs and
// returns its path.
func (b *Browser) Screenshot(name string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, DefaultTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	b.mu.Lock()
	if b.dir == "" {
		b.dir = ArtifactDir(b.t)
	}
	path := filepath.Join(b.dir, name)
	b.mu.Unlock()
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return "", fmt.Errorf("screenshot %s: %w", name, err)
	}
	b.t.Logf("screenshot: %s", path)
	return path, nil
}

// Screenshot returns a PNG of the whole page without saving it.
func Screenshot(b *Browser) ([]byte, error) {
	ctx, cancel := context.WithTimeout(b.ctx, DefaultTimeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return nil, fmt.Errorf("screenshot: %w", err)
	}
	return png, nil
}
