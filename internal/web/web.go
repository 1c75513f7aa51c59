// Package web serves the dashboard, built by Vite into dist/ and embedded
// at compile time. Without a build (a fresh clone without Node), it serves
// a page that says how to build it.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed all:dist
var dist embed.FS

const placeholder = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Movie Trend Analyzer</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>Movie Trend Analyzer</h1>
<p>The dashboard was not built into this binary. Build it with <code>make dashboard</code>
(needs Node.js 20 and npm), then rebuild with <code>make build</code>.</p>
<p>The API works without it: <a href="/api/movies">/api/movies</a>.</p>
</body></html>
`

// Built tells whether the dashboard was built into this binary.
func Built() bool {
	_, err := fs.Stat(dist, "dist/index.html")
	return err == nil
}

// Handler serves the dashboard's files, and index.html for any other path
// (the dashboard routes on the client).
func Handler() http.Handler {
	sub, _ := fs.Sub(dist, "dist")
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !Built() {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte(placeholder))
			return
		}
		p := strings.TrimPrefix(r.URL.Path, "/")
		if _, err := fs.Stat(sub, p); p == "" || err != nil {
			// Unknown paths get the app; its assets are content-hashed.
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, sub, "index.html")
			return
		}
		if strings.HasPrefix(p, "assets/") {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		files.ServeHTTP(w, r)
	})
}
