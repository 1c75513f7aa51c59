package web

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func get(t *testing.T, path string, header ...string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	Handler().ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	var r io.Reader = resp.Body
	if resp.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			t.Fatalf("gzip: %v", err)
		}
		r = zr
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The dashboard may or may not be built when the Go tests run (a fresh
// clone has only dist/.gitkeep), so each case checks what this binary has.
func TestPlaceholderWithoutBuild(t *testing.T) {
	if Built() {
		t.Skip("the dashboard is built into this test binary")
	}
	resp := get(t, "/")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body(t, resp), "make dashboard") {
		t.Fatalf("want the placeholder saying how to build the dashboard, got %d", resp.StatusCode)
	}
}

func TestServesTheBuiltDashboard(t *testing.T) {
	if !Built() {
		t.Skip("the dashboard is not built (make dashboard)")
	}
	index := get(t, "/")
	html := body(t, index)
	if index.StatusCode != http.StatusOK || !strings.Contains(html, `<div id="root">`) {
		t.Fatalf("GET /: %d %q", index.StatusCode, html)
	}
	if got := index.Header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("index Cache-Control = %q, want no-cache", got)
	}

	// Client-side routes and unknown paths get the app too.
	for _, p := range []string{"/movies/27205", "/.gitkeep", "/assets/"} {
		if resp := get(t, p); resp.StatusCode != http.StatusOK || !strings.Contains(body(t, resp), `<div id="root">`) {
			t.Errorf("GET %s: want index.html, got %d", p, resp.StatusCode)
		}
	}

	assets, _ := fs.Glob(dist, "dist/assets/*.js")
	if len(assets) == 0 {
		t.Fatal("no JavaScript in dist/assets")
	}
	js := strings.TrimPrefix(assets[0], "dist")
	want, _ := fs.ReadFile(dist, assets[0])

	plain := get(t, js)
	if plain.Header.Get("Content-Encoding") != "" || body(t, plain) != string(want) {
		t.Errorf("GET %s without gzip: wrong body or encoding %q", js, plain.Header.Get("Content-Encoding"))
	}
	if ct := plain.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := plain.Header.Get("Cache-Control"); !strings.Contains(cc, "immutable") {
		t.Errorf("assets Cache-Control = %q, want immutable", cc)
	}

	zipped := get(t, js, "Accept-Encoding", "br, gzip")
	if zipped.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("GET %s with gzip: Content-Encoding = %q", js, zipped.Header.Get("Content-Encoding"))
	}
	if got := body(t, zipped); got != string(want) {
		t.Errorf("gzipped body differs from the file (%d vs %d bytes)", len(got), len(want))
	}
	if ct := zipped.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/javascript") {
		t.Errorf("gzipped Content-Type = %q", ct)
	}
	if v := zipped.Header.Get("Vary"); v != "Accept-Encoding" {
		t.Errorf("Vary = %q", v)
	}
	if refused := get(t, js, "Accept-Encoding", "gzip;q=0"); refused.Header.Get("Content-Encoding") != "" {
		t.Error("gzip;q=0 must not get gzip")
	}
}
