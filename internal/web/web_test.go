package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/fstest"
)

// The serving (client-side routes, precompressed files, caching headers)
// is tested on every run against a stand-in build in memory (testBuild),
// whether or not the real dashboard was built before `go test`: a fresh
// clone has only dist/.gitkeep, and the Makefile builds the dashboard
// after the Go tests. TestEmbeddedBuild checks the real build, when there
// is one.

const (
	testIndex = `<!doctype html><html><head><script type="module" src="/assets/index-Bx7kQ2aZ.js"></script>` +
		`<link rel="stylesheet" href="/assets/index-Dp9yLl6c.css"></head><body><div id="root"></div></body></html>`
	testJS  = `const e=document.getElementById("root");e.textContent="Movie Trend Analyzer";`
	testCSS = `body{font-family:sans-serif;margin:0}`
	testPNG = "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" // not compressible: the build writes no .gz for it
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// testBuild is laid out as Vite writes dist/ (frontend/vite.config.js):
// index.html, content-hashed assets, and a name.gz next to each text file.
func testBuild(t *testing.T) fstest.MapFS {
	t.Helper()
	return fstest.MapFS{
		".gitkeep":                     {Data: nil},
		"index.html":                   {Data: []byte(testIndex)},
		"index.html.gz":                {Data: gz(t, testIndex)},
		"assets/index-Bx7kQ2aZ.js":     {Data: []byte(testJS)},
		"assets/index-Bx7kQ2aZ.js.gz":  {Data: gz(t, testJS)},
		"assets/index-Dp9yLl6c.css":    {Data: []byte(testCSS)},
		"assets/index-Dp9yLl6c.css.gz": {Data: gz(t, testCSS)},
		"assets/poster-Qm3vT8wE.png":   {Data: []byte(testPNG)},
	}
}

type response struct {
	*http.Response
	raw []byte // the body as sent (compressed when Content-Encoding is gzip)
}

func serve(t *testing.T, h http.Handler, method, target string, header ...string) response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	resp := rec.Result()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{resp, raw}
}

func get(t *testing.T, h http.Handler, target string, header ...string) response {
	t.Helper()
	return serve(t, h, http.MethodGet, target, header...)
}

// body is the response's content, decompressed when it was sent gzipped.
func (r response) body(t *testing.T) string {
	t.Helper()
	if r.Header.Get("Content-Encoding") != "gzip" {
		return string(r.raw)
	}
	zr, err := gzip.NewReader(bytes.NewReader(r.raw))
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatalf("gzip: %v", err)
	}
	return string(b)
}

// checkSecured checks the headers every page of the dashboard carries.
func checkSecured(t *testing.T, what string, h http.Header) {
	t.Helper()
	if csp := h.Get("Content-Security-Policy"); csp != ContentSecurityPolicy {
		t.Errorf("%s: Content-Security-Policy = %q, want %q", what, csp, ContentSecurityPolicy)
	}
	if v := h.Get("X-Content-Type-Options"); v != "nosniff" {
		t.Errorf("%s: X-Content-Type-Options = %q, want nosniff", what, v)
	}
}

func TestClientRoutesGetTheApp(t *testing.T) {
	h := newHandler(testBuild(t))
	// Unknown paths, directories and .gitkeep get index.html, never cached
	// (it names the current content-hashed assets).
	for _, p := range []string{"/", "/movies/27205", "/movies/27205/", "/trending?window=24h", "/.gitkeep", "/assets", "/assets/", "/a/../movies", "//movies"} {
		resp := get(t, h, p)
		if resp.StatusCode != http.StatusOK || resp.body(t) != testIndex {
			t.Errorf("GET %s: got %d %.60q, want 200 and index.html", p, resp.StatusCode, resp.body(t))
			continue
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("GET %s: Cache-Control = %q, want no-cache", p, cc)
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type = %q, want text/html", p, ct)
		}
		if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
			t.Errorf("GET %s: Vary = %q, want Accept-Encoding", p, v)
		}
		checkSecured(t, "GET "+p, resp.Header)
	}
	// A missing asset (of an older build) is a 404, as NGINX answers it,
	// not index.html run as a script.
	for _, p := range []string{"/assets/index-0ld0ld.js", "/assets/gone/x.css"} {
		if resp := get(t, h, p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: got %d %.60q, want 404", p, resp.StatusCode, resp.body(t))
		}
	}
	if resp := get(t, h, "/index.html"); resp.StatusCode != http.StatusOK || resp.body(t) != testIndex {
		t.Errorf("GET /index.html: got %d, want 200 and index.html", resp.StatusCode)
	}
	// The app, gzipped, to the browsers that take it.
	resp := get(t, h, "/movies/27205", "Accept-Encoding", "gzip, deflate, br")
	if ce := resp.Header.Get("Content-Encoding"); ce != "gzip" || resp.body(t) != testIndex {
		t.Errorf("GET /movies/27205 with gzip: Content-Encoding %q, body %.60q; want gzip and index.html", ce, resp.body(t))
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-cache" {
		t.Errorf("GET /movies/27205 with gzip: Cache-Control = %q, want no-cache", cc)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("GET /movies/27205 with gzip: Content-Type = %q, want text/html", ct)
	}
}

func TestAssets(t *testing.T) {
	files := testBuild(t)
	h := newHandler(files)
	checkAsset(t, h, files, "assets/index-Bx7kQ2aZ.js", "text/javascript")
	checkAsset(t, h, files, "assets/index-Dp9yLl6c.css", "text/css")
	checkAsset(t, h, files, "assets/poster-Qm3vT8wE.png", "image/png")
}

// checkAsset checks how h serves files' asset name (under assets/), whose
// Content-Type must start with wantType, to every kind of Accept-Encoding.
func checkAsset(t *testing.T, h http.Handler, files fs.FS, name, wantType string) {
	t.Helper()
	plain, err := fs.ReadFile(files, name)
	if err != nil {
		t.Fatal(err)
	}
	zipped, err := fs.ReadFile(files, name+".gz")
	hasGz := err == nil
	for _, tt := range []struct {
		acceptEncoding string
		gzip           bool // gzip is acceptable
	}{
		{"", false},
		{"identity", false},
		{"br", false},
		{"gzip", true},
		{"br, gzip", true},
		{"gzip, deflate, br, zstd", true}, // what browsers send
		{"x-gzip", true},
		{"GZIP;q=0.5", true},
		{"*", true},
		{"gzip;q=0", false},
		{"gzip;q=0.000, br", false},
		{"*;q=0", false},
		{"gzip;q=0, *", false},
	} {
		var header []string
		if tt.acceptEncoding != "" {
			header = []string{"Accept-Encoding", tt.acceptEncoding}
		}
		resp := get(t, h, "/"+name, header...)
		where := "GET /" + name + " (Accept-Encoding: " + tt.acceptEncoding + ")"
		if resp.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", where, resp.StatusCode)
			continue
		}
		want, wantCE := plain, ""
		if tt.gzip && hasGz {
			want, wantCE = zipped, "gzip" // the build's own .gz, not compressed on the fly
		}
		if ce := resp.Header.Get("Content-Encoding"); ce != wantCE {
			t.Errorf("%s: Content-Encoding = %q, want %q", where, ce, wantCE)
		}
		if !bytes.Equal(resp.raw, want) {
			t.Errorf("%s: body of %d bytes, want the %d bytes of %s", where, len(resp.raw), len(want), name+map[bool]string{true: ".gz"}[wantCE != ""])
		}
		if got := resp.body(t); got != string(plain) {
			t.Errorf("%s: content differs from %s (%d vs %d bytes)", where, name, len(got), len(plain))
		}
		// http.ServeContent leaves Content-Length out when there is a
		// Content-Encoding (the server then counts or chunks the body).
		if cl := resp.Header.Get("Content-Length"); wantCE == "" && cl != strconv.Itoa(len(want)) {
			t.Errorf("%s: Content-Length = %q, want %d", where, cl, len(want))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Errorf("%s: Content-Type = %q, want %s (of %s, not of .gz)", where, ct, wantType, name)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "public, max-age=31536000, immutable" {
			t.Errorf("%s: Cache-Control = %q, want public, max-age=31536000, immutable (content-hashed)", where, cc)
		}
		if v := resp.Header.Values("Vary"); len(v) != 1 || v[0] != "Accept-Encoding" {
			t.Errorf("%s: Vary = %q, want Accept-Encoding (also on the uncompressed answer, for caches)", where, v)
		}
	}
	// HEAD: the same headers, no body.
	head := serve(t, h, http.MethodHead, "/"+name, "Accept-Encoding", "gzip")
	if head.StatusCode != http.StatusOK || len(head.raw) != 0 {
		t.Errorf("HEAD /%s: got %d with %d bytes, want 200 and no body", name, head.StatusCode, len(head.raw))
	}
	if hasGz && head.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD /%s with gzip: Content-Encoding = %q, want gzip", name, head.Header.Get("Content-Encoding"))
	}
}

func TestPlaceholderWithoutBuild(t *testing.T) {
	// A fresh clone: dist/ holds only .gitkeep.
	h := newHandler(fstest.MapFS{".gitkeep": {}})
	for _, p := range []string{"/", "/movies/27205", "/assets/index-Bx7kQ2aZ.js", "/.gitkeep"} {
		resp := get(t, h, p, "Accept-Encoding", "gzip")
		if resp.StatusCode != http.StatusOK || !strings.Contains(resp.body(t), "make dashboard") {
			t.Errorf("GET %s: got %d %.60q, want the placeholder saying how to build the dashboard", p, resp.StatusCode, resp.body(t))
		}
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type = %q, want text/html", p, ct)
		}
		checkSecured(t, "GET "+p, resp.Header)
		if strings.Contains(resp.body(t), "style=") {
			t.Errorf("GET %s: the placeholder has an inline style, which its own policy refuses", p)
		}
	}
}

// Handler serves what was embedded: the placeholder without a build, the
// app with one.
func TestHandlerServesTheEmbeddedFiles(t *testing.T) {
	resp := get(t, Handler(), "/movies/27205")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /movies/27205: %d", resp.StatusCode)
	}
	placeholder := strings.Contains(resp.body(t), "make dashboard")
	if placeholder == Built() {
		t.Errorf("Built() = %v but the handler served the placeholder: %v", Built(), placeholder)
	}
}

// TestEmbeddedBuild checks the real build (make dashboard, before go test)
// with the checks that the stand-in build gets above.
func TestEmbeddedBuild(t *testing.T) {
	if !Built() {
		const msg = "the dashboard is not built into this test binary (make dashboard, then go test)"
		if os.Getenv("TREND_WANT_DASHBOARD") != "" {
			t.Fatal(msg + ": TREND_WANT_DASHBOARD is set (make test-dashboard runs this test after the build)")
		}
		t.Skip(msg + ": the serving is still tested, on a stand-in build; make test-dashboard runs this test after the build")
	}
	files, h := embedded(), Handler()
	index, err := fs.ReadFile(files, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(index, []byte(`<div id="root">`)) {
		t.Errorf("index.html has no <div id=\"root\">")
	}
	if resp := get(t, h, "/movies/27205", "Accept-Encoding", "gzip"); resp.body(t) != string(index) || resp.Header.Get("Cache-Control") != "no-cache" {
		t.Errorf("GET /movies/27205: want index.html, no-cache; got Cache-Control %q", resp.Header.Get("Cache-Control"))
	}

	// Every asset index.html names is there and served as an asset.
	refs := regexp.MustCompile(`(?:src|href)="/(assets/[^"]+)"`).FindAllSubmatch(index, -1)
	if len(refs) == 0 {
		t.Fatal("index.html names no /assets/ file")
	}
	types := map[string]string{".js": "text/javascript", ".css": "text/css"}
	for _, ref := range refs {
		name := string(ref[1])
		if _, err := fs.Stat(files, name); err != nil {
			t.Errorf("index.html names %s, which the build lacks", name)
			continue
		}
		if want, ok := types[path.Ext(name)]; ok {
			if _, err := fs.Stat(files, name+".gz"); err != nil {
				t.Errorf("%s has no precompressed %s.gz", name, name)
			}
			checkAsset(t, h, files, name, want)
		}
	}

	// Each .gz holds exactly its file.
	gzs, _ := fs.Glob(files, "*.gz")
	more, _ := fs.Glob(files, "assets/*.gz")
	for _, name := range append(gzs, more...) {
		zipped, _ := fs.ReadFile(files, name)
		plain, err := fs.ReadFile(files, strings.TrimSuffix(name, ".gz"))
		if err != nil {
			t.Errorf("%s has no uncompressed original", name)
			continue
		}
		resp := response{Response: &http.Response{Header: http.Header{"Content-Encoding": {"gzip"}}}, raw: zipped}
		if resp.body(t) != string(plain) {
			t.Errorf("%s does not decompress to %s", name, strings.TrimSuffix(name, ".gz"))
		}
	}
}
