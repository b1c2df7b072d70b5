package zonepagetest

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

const testPage = `<!doctype html><html><body>
<input id="in"><p id="echo"></p><button id="boom">boom</button><div id="gone">x</div>
<script>
document.getElementById("in").addEventListener("input", e => { document.getElementById("echo").textContent = "got " + e.target.value; });
document.getElementById("boom").addEventListener("click", () => { throw new Error("boom clicked"); });
setTimeout(() => { const d = document.createElement("div"); d.id = "late"; d.textContent = "late"; document.body.append(d); document.getElementById("gone").remove(); }, 300);
</script></body></html>`

func TestBrowserHelper(t *testing.T) {
	b := Start(t, Options{Width: 800, Height: 600})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(testPage))
	}))
	t.Cleanup(srv.Close)
	if err := b.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitVisible("#late", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitGone("#gone", 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.Type("#in", "abc"); err != nil {
		t.Fatal(err)
	}
	if err := b.Type("#in", "xy"); err != nil { // replaces, not appends
		t.Fatal(err)
	}
	if txt, err := b.Text("#echo"); err != nil || txt != "got xy" {
		t.Errorf("echo = %q, %v", txt, err)
	}
	if err := b.Type("#in", ""); err != nil {
		t.Fatal(err)
	}
	if err := b.WaitTrue(`document.getElementById("echo").textContent === "got "`, 5*time.Second); err != nil {
		t.Error(err)
	}
	if n, err := Eval[int](b, `1 + 2`); err != nil || n != 3 {
		t.Errorf("Eval = %d, %v", n, err)
	}
	if err := b.WaitVisible("#never", 300*time.Millisecond); err == nil || !strings.Contains(err.Error(), "not done within") {
		t.Errorf("waiting for a missing element: %v", err)
	}
	if err := b.Click("#boom"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(strings.Join(b.Errors(), "\n"), "boom clicked") {
		if time.Now().After(deadline) {
			t.Fatalf("the exception was not collected: %v", b.Errors())
		}
		time.Sleep(20 * time.Millisecond)
	}
	path, err := b.Screenshot("helper.png")
	if err != nil {
		t.Fatal(err)
	}
	png, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) {
		t.Errorf("screenshot %s is not a PNG (%d bytes, %v)", path, len(png), err)
	}
}

func TestMain(m *testing.M) { os.Exit(Main(m)) }

// Two tabs of the shared browser are independent pages.
func TestSharedTabs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte(`<!doctype html><p id="path"></p><script>document.getElementById("path").textContent = location.pathname</script>`))
	}))
	t.Cleanup(srv.Close)
	a, b := StartShared(t), StartShared(t)
	if err := a.Navigate(srv.URL + "/a"); err != nil {
		t.Fatal(err)
	}
	if err := b.Navigate(srv.URL + "/b"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		b    *Browser
		want string
	}{{a, "/a"}, {b, "/b"}} {
		if txt, err := c.b.Text("#path"); err != nil || txt != c.want {
			t.Errorf("tab shows %q (%v), want %q", txt, err, c.want)
		}
	}
	if w, err := Eval[int](a, `window.innerWidth`); err != nil || w != 1400 {
		t.Errorf("shared tab width %d (%v), want 1400", w, err)
	}
}
