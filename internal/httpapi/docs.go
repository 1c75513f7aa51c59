package httpapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/movietrend/trend/internal/negotiate"
)

// openAPIDocument is the OpenAPI 3.1 document of the API, written by hand.
// openapi_test.go checks it against the OpenAPI specification, against
// the router (every route is described, every described route exists) and
// against the answers of the handlers.
//
//go:embed openapi.json
var openAPIDocument []byte

// docsFiles are the interactive docs: a page that runs Swagger UI, and
// Swagger UI itself, vendored gzipped from the npm package swagger-ui-dist
// (see docs/README.md).
//
//go:embed docs/index.html docs/swagger-ui-bundle.js.gz docs/swagger-ui.css.gz
//go:embed docs/LICENSE docs/NOTICE docs/swagger-ui-bundle.js.LICENSE.txt
var docsFiles embed.FS

// docsAsset is a file the docs page loads, served at /docs/{name}.
type docsAsset struct {
	file        string
	contentType string
	gzipped     bool // file holds the gzipped content
}

var docsAssets = map[string]docsAsset{
	"swagger-ui-bundle.js":             {"docs/swagger-ui-bundle.js.gz", "text/javascript; charset=utf-8", true},
	"swagger-ui.css":                   {"docs/swagger-ui.css.gz", "text/css; charset=utf-8", true},
	"swagger-ui-bundle.js.LICENSE.txt": {"docs/swagger-ui-bundle.js.LICENSE.txt", "text/plain; charset=utf-8", false},
	"LICENSE":                          {"docs/LICENSE", "text/plain; charset=utf-8", false},
	"NOTICE":                           {"docs/NOTICE", "text/plain; charset=utf-8", false},
}

var (
	openAPIETag = func() string {
		sum := sha256.Sum256(openAPIDocument)
		return `"` + hex.EncodeToString(sum[:12]) + `"`
	}()
	// docsPage is docs/index.html with its asset URLs versioned by their
	// content, so that the assets can be cached for good.
	docsPage = func() []byte {
		page, err := docsFiles.ReadFile("docs/index.html")
		if err != nil {
			panic(err)
		}
		h := sha256.New()
		for _, name := range []string{"docs/swagger-ui-bundle.js.gz", "docs/swagger-ui.css.gz"} {
			b, err := docsFiles.ReadFile(name)
			if err != nil {
				panic(err)
			}
			h.Write(b)
		}
		return bytes.ReplaceAll(page, []byte("{{version}}"), []byte(hex.EncodeToString(h.Sum(nil))[:12]))
	}()
)

// docsRoutes mounts the OpenAPI document and the interactive API docs.
// /docs must be a route of its own: the root's NotFound would serve the
// dashboard for it.
func (s *server) docsRoutes(r chi.Router) {
	r.Get("/api/openapi.json", answerWithin(serveOpenAPI))
	r.Get("/docs", answerWithin(serveDocsPage))
	r.Get("/docs/{asset}", answerWithin(serveDocsAsset))
}

// answerWithin starts the answer's write bound (answerDeadline) before h,
// which answers at once.
func answerWithin(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		answerDeadline(w)
		h(w, r)
	}
}

// serveOpenAPI serves the document, or 304 to a client whose copy is
// current (If-None-Match). ServeContent's other answers (206 and 416 to
// Range, 412 to If-Match) would be plain text, not problems, for a
// document small enough to send whole: those headers are ignored.
func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("ETag", openAPIETag)
	r = r.Clone(r.Context())
	for _, h := range []string{"Range", "If-Range", "If-Match", "If-Unmodified-Since"} {
		r.Header.Del(h)
	}
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(openAPIDocument))
}

func serveDocsPage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Not to be framed: "Try it out" on a page another site overlays is a
	// click on the admin API (the dashboard's own CSP says the same).
	w.Header().Set("Content-Security-Policy", "frame-ancestors 'none'")
	w.Header().Set("X-Frame-Options", "DENY")
	_, _ = w.Write(docsPage)
}

// serveDocsAsset serves a vendored file: the gzipped ones as they are to
// clients that accept gzip (all browsers), uncompressed to the others.
func serveDocsAsset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "asset")
	a, ok := docsAssets[name]
	if !ok {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such file of the API docs: " + echo(name)})
		return
	}
	b, err := docsFiles.ReadFile(a.file)
	if err != nil {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "no such file of the API docs: " + echo(name)})
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("X-Content-Type-Options", "nosniff")
	if a.gzipped {
		// The page asks for ?v=<content hash>: a new version is a new URL.
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
		h.Add("Vary", "Accept-Encoding") // after the CORS middleware's Origin
	}
	if !a.gzipped || negotiate.AcceptsGzip(r) {
		if a.gzipped {
			h.Set("Content-Encoding", "gzip")
		}
		h.Set("Content-Length", strconv.Itoa(len(b)))
		_, _ = w.Write(b)
		return
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		writeProblem(w, Problem{Type: typeInternalError, Status: http.StatusInternalServerError, Detail: "the API docs are damaged in this build"})
		return
	}
	_, _ = io.Copy(w, zr)
}
