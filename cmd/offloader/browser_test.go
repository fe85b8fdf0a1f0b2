package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// The screenshot in the README is this test's: go test ./cmd/offloader
// -run TestDashboardInBrowser -args -screenshot=$PWD/docs/dashboard.png
// -screenshot-after=3m (the load runs that long first, so the charts
// have a history). Without the flag the test writes its screenshot into
// its own temporary directory only.
var (
	screenshotPath  = flag.String("screenshot", "", "also write the dashboard's screenshot to this file")
	screenshotAfter = flag.Duration("screenshot-after", 0, "with -screenshot: run the load this long before taking it")
)

// findChromium finds Debian's chromium (or another Chrome). Missing, the
// test skips, or fails under TLSOFFLOAD_REQUIRE_PEERS=1 (CI installs it).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TLSOFFLOAD_REQUIRE_PEERS") == "1" {
		t.Fatal("chromium not installed and TLSOFFLOAD_REQUIRE_PEERS=1 (apt-get install chromium)")
	}
	t.Skip("chromium not installed")
	return ""
}

// TestDashboardInBrowser opens the dashboard of the built offloader,
// under load from real device handshakes, in headless Chromium: the page
// renders with no console error and no request to another origin, its
// charts have data, the handshake counter moves, refused handshakes show
// in the failures panel by reason, and the device table finds a device by
// its id. It keeps a screenshot.
func TestDashboardInBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the daemon and a browser")
	}
	chrome := findChromium(t)
	d := startLoadedDaemon(t)
	d.waitMetrics(t, `tlsoffload_handshakes_total{result="expired"}`, `tlsoffload_handshakes_total{result="wrong_psk"}`,
		`tlsoffload_handshakes_total{result="policy_denied"}`)
	if *screenshotPath != "" && *screenshotAfter > 0 {
		time.Sleep(*screenshotAfter)
	}

	tmp := t.TempDir()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome),
		chromedp.NoSandbox, // CI runs as root
		chromedp.UserDataDir(filepath.Join(tmp, "profile")),
		chromedp.Env("HOME="+tmp, "XDG_CONFIG_HOME="+filepath.Join(tmp, "config"), "XDG_CACHE_HOME="+filepath.Join(tmp, "cache")),
		chromedp.Flag("disable-crash-reporter", true),
		chromedp.Flag("disable-breakpad", true),
		chromedp.WindowSize(1400, 1700),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()

	origin := "http://" + d.httpAddr
	var mu sync.Mutex
	var problems []string
	requests := 0
	// Listen starts the browser: on a context without a deadline, which
	// would stop the browser itself.
	err := chromedp.Listen(bctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch e := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeWarning {
				var args []string
				for _, a := range e.Args {
					args = append(args, string(a.Value)+a.Description)
				}
				problems = append(problems, fmt.Sprintf("console.%s: %s", e.Type, strings.Join(args, " ")))
			}
		case *runtime.EventExceptionThrown:
			x := e.ExceptionDetails
			problems = append(problems, fmt.Sprintf("exception: %s at %s:%d", x.Text, x.URL, x.LineNumber))
		case *cdplog.EventEntryAdded:
			if e.Entry.Level == cdplog.EntryLevelError || e.Entry.Level == cdplog.EntryLevelWarning {
				problems = append(problems, fmt.Sprintf("log %s: %s %s", e.Entry.Level, e.Entry.Text, e.Entry.URL))
			}
		case *network.EventRequestWillBeSent:
			requests++
			if u := e.Request.URL; !strings.HasPrefix(u, origin+"/") {
				problems = append(problems, "a request to another origin: "+u)
			}
		}
	})
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte(basicUser+":"+basicPass))
	if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders, network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Authorization": basic}}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(origin+"/"), chromedp.WaitVisible(chromedp.ID("panel-devices"))); err != nil {
		t.Fatal(err)
	}

	// eval polls a JavaScript expression until ok accepts its value.
	eval := func(what, js string, ok func(string) bool) string {
		t.Helper()
		for {
			got, err := chromedp.Run(ctx, chromedp.Evaluate[string](js))
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			if ok(got) {
				return got
			}
			select {
			case <-ctx.Done():
				t.Fatalf("%s: still %q when the test's time ran out", what, got)
			case <-time.After(250 * time.Millisecond):
			}
		}
	}
	count := func(s string) int64 {
		n, err := strconv.ParseInt(strings.ReplaceAll(s, ",", ""), 10, 64)
		if err != nil {
			return -1
		}
		return n
	}
	positive := func(s string) bool { return count(s) > 0 }
	text := func(sel string) string {
		return `(document.querySelector(` + strconv.Quote(sel) + `) || {textContent: ""}).textContent`
	}

	// The handshake counter moves between two reads.
	first := count(eval("handshakes ok", text("#hs-ok"), positive))
	eval("handshakes ok moving", text("#hs-ok"), func(s string) bool { return count(s) > first })
	eval("handshakes failed", text("#hs-failed"), positive)
	// The charts have data: the succeeded line has points.
	eval("handshake chart", `String(document.querySelector("#chart-handshakes").dataset.pointsok || 0)`,
		func(s string) bool { return count(s) >= 2 })
	eval("load chart", `String(document.querySelector("#chart-load").dataset.pointsc1 || 0)`,
		func(s string) bool { return count(s) >= 2 })
	eval("latency chart", `String(document.querySelector("#chart-latency").dataset.pointsc3 || 0)`,
		func(s string) bool { return count(s) >= 1 })
	// Tiles and tables hold numbers.
	eval("channels", text("#channels"), positive)
	eval("devices connected", text("#connected"), positive)
	eval("cache ratio", text("#cache-ratio"), func(s string) bool { return strings.HasSuffix(s, "%") })
	eval("pipelined latency", text(`#latency tr[data-kind="pipelined"] td:nth-child(6)`),
		func(s string) bool { return strings.HasSuffix(s, "s") })
	// Each refusal shows in the failures panel under its reason.
	for _, reason := range []string{"expired", "name_mismatch", "policy_denied", "wrong_psk"} {
		eval("failures: "+reason, text(`#failures tr[data-reason="`+reason+`"] td.count`), positive)
	}
	eval("process", text("#p-generation"), func(s string) bool { return strings.HasPrefix(s, "1 (loaded") })
	eval("fds", text("#p-fds"), func(s string) bool { return strings.Contains(s, " / ") && !strings.HasPrefix(s, "unknown") })
	// The device table: the busiest first, then a search finds one by id.
	eval("device table", `String(document.querySelectorAll("#devices tbody tr").length)`, func(s string) bool { return count(s) == 3 })
	eval("gamma's last reason", text(`#devices tr[data-device="sensor-gamma-03"] td:nth-child(5)`),
		func(s string) bool { return s == "expired" || s == "name mismatch" })

	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(shot, []byte("\x89PNG\r\n\x1a\n")) {
		t.Fatalf("the screenshot is not a PNG (%d bytes)", len(shot))
	}
	if err := os.WriteFile(filepath.Join(tmp, "dashboard.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	if *screenshotPath != "" {
		if err := os.WriteFile(*screenshotPath, shot, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.ID("device-search"), "GAMMA")); err != nil {
		t.Fatal(err)
	}
	eval("search", `Array.from(document.querySelectorAll("#devices tbody tr")).map(r => r.dataset.device).join(",")`,
		func(s string) bool { return s == "sensor-gamma-03" })
	eval("search note", text("#devices-note"), func(s string) bool { return strings.HasPrefix(s, "1 matching") })

	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
	if requests < 5 {
		t.Errorf("saw %d requests: the listener missed them", requests)
	}
}
