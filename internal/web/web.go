// Package web serves the dashboard, built by Vite into dist/ and embedded
// at compile time. Without a build (a fresh clone without Node), it serves
// a page that says how to build it.
package web

import (
	"embed"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"

	"github.com/movietrend/trend/internal/negotiate"
)

//go:embed all:dist
var dist embed.FS

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Movie Trend Analyzer</title></head>
<body>
<h1>Movie Trend Analyzer</h1>
<p>The dashboard was not built into this binary. Build it with <code>make dashboard</code>
(needs Node.js 20.19 or a later 20, 22.13 or a later 22, or 24 and newer, and npm), then rebuild with <code>make build</code>.</p>
<p>The API works without it: <a href="/api/movies">/api/movies</a>. In docker compose the
dashboard is served on port 3000.</p>
</body></html>
`

// ContentSecurityPolicy is sent with every page of the dashboard (NGINX's
// frontend/nginx.conf sends the same): its scripts, styles, API calls and
// live stream come from its own origin, posters from TMDB's image host, its
// favicon is a data: URL; no plugin, no <base>, no framing (clickjacking
// of the admin panel), and no inline script.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' data: https://image.tmdb.org; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

// secured sets the headers every answer of the dashboard carries.
func secured(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Security-Policy", ContentSecurityPolicy)
		w.Header().Set("X-Content-Type-Options", "nosniff")
		h.ServeHTTP(w, r)
	})
}

// Built tells whether the dashboard was built into this binary.
func Built() bool {
	return hasIndex(embedded())
}

// Handler serves the dashboard's files, and index.html for any other path
// (the dashboard routes on the client). The build writes a gzipped copy
// next to each text file (name.gz); clients that accept gzip get that one.
func Handler() http.Handler {
	return newHandler(embedded())
}

// embedded is the build embedded at compile time, rooted at dist/.
func embedded() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: fs.Sub cannot fail
	}
	return sub
}

func hasIndex(files fs.FS) bool {
	st, err := fs.Stat(files, "index.html")
	return err == nil && !st.IsDir()
}

// newHandler serves files as Handler serves the embedded build: files
// holds what Vite writes into dist/ (index.html, assets/, the .gz copies).
// Without an index.html it serves the placeholder page. The tests give it
// an fstest.MapFS, so that the serving is checked without a build.
func newHandler(files fs.FS) http.Handler {
	if !hasIndex(files) {
		return secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(placeholder))
		}))
	}
	return secured(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
		st, err := fs.Stat(files, p)
		if err != nil && strings.HasPrefix(p, "assets/") {
			// An asset of an older build (a tab opened before a deploy):
			// index.html in its place would be run as a script. NGINX's
			// frontend/nginx.conf answers 404 too.
			http.Error(w, "not found", http.StatusNotFound)
			return
		}
		if p == "" || err != nil || st.IsDir() || p == ".gitkeep" {
			// Unknown paths get the app; its assets are content-hashed.
			w.Header().Set("Cache-Control", "no-cache")
			p = "index.html"
		} else if strings.HasPrefix(p, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		serveFile(w, r, files, p)
	}))
}

func serveFile(w http.ResponseWriter, r *http.Request, files fs.FS, name string) {
	if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
		w.Header().Set("Content-Type", ct)
	}
	w.Header().Add("Vary", "Accept-Encoding")
	served := name
	if negotiate.AcceptsGzip(r) {
		if _, err := fs.Stat(files, name+".gz"); err == nil {
			served = name + ".gz"
			w.Header().Set("Content-Encoding", "gzip")
		}
	}
	f, err := files.Open(served)
	if err != nil {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "cannot read "+name, http.StatusInternalServerError)
		return
	}
	// Embedded files have no modification time; ServeContent still handles
	// HEAD, Range and Content-Length.
	http.ServeContent(w, r, name, st.ModTime(), rs)
}
