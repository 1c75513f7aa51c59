package httpapi_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/movietrend/trend/internal/httpapi"
)

// TestAdminEmptyChunkedBodyIsNoBody: the admin commands whose body is
// optional take an empty body sent in chunks (its length unknown until it
// is read) as no body, as they take one of Content-Length: 0, whatever its
// Content-Type; a chunked body that is not empty is read as usual. A purge
// must say which letters, so it refuses an empty chunked body as it
// refuses no body.
func TestAdminEmptyChunkedBodyIsNoBody(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(httpapi.New(t.Context(), newDocFakes().deps()))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		name, path, contentType, body string
		want                          int
		wantBody                      string // a member of the answer, as JSON
	}{
		{name: "requeue", path: "/api/admin/dead-letters/requeue", want: 200, wantBody: `"requeued":1,"skipped":[`},
		{name: "requeue as JSON", path: "/api/admin/dead-letters/requeue", contentType: "application/json", want: 200, wantBody: `"requeued":1,"skipped":[`},
		{name: "purge", path: "/api/admin/dead-letters/purge", want: 422, wantBody: `"type":"/problems/validation"`},
		{name: "purge as JSON", path: "/api/admin/dead-letters/purge", contentType: "application/json", want: 422, wantBody: `"type":"/problems/validation"`},
		{name: "purge all", path: "/api/admin/dead-letters/purge", contentType: "application/json", body: `{"all":true}`, want: 200, wantBody: `"purged":2`},
		{name: "replay", path: "/api/admin/replay", want: 202, wantBody: `"projection":"trend"`},
		{name: "replay as JSON", path: "/api/admin/replay", contentType: "application/json", want: 202, wantBody: `"projection":"trend"`},
		{name: "purge some", path: "/api/admin/dead-letters/purge", contentType: "application/json", body: `{"ids":["a"]}`, want: 200, wantBody: `"purged":1`},
		{name: "purge text", path: "/api/admin/dead-letters/purge", contentType: "text/plain", body: `a`, want: 415},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Written by hand: net/http's client sends an empty body with
			// Content-Length: 0, never in chunks.
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			var req strings.Builder
			fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: api\r\nAuthorization: %s\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n", tt.path, docBearer)
			if tt.contentType != "" {
				fmt.Fprintf(&req, "Content-Type: %s\r\n", tt.contentType)
			}
			req.WriteString("\r\n")
			if tt.body != "" {
				fmt.Fprintf(&req, "%x\r\n%s\r\n", len(tt.body), tt.body)
			}
			req.WriteString("0\r\n\r\n")
			if _, err := io.WriteString(conn, req.String()); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			got, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tt.want {
				t.Fatalf("got %d %s, want %d", resp.StatusCode, got, tt.want)
			}
			if tt.wantBody == "" {
				return
			}
			var compact strings.Builder
			if err := json.NewEncoder(&compact).Encode(json.RawMessage(got)); err != nil || !strings.Contains(compact.String(), tt.wantBody) {
				t.Errorf("got %s, want it to hold %s", got, tt.wantBody)
			}
		})
	}
}

// TestAdminReplayBodyNameWins: a replay's projection may be named in the
// query or the body; the body's name wins, so only the name used is
// checked.
func TestAdminReplayBodyNameWins(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(httpapi.New(t.Context(), newDocFakes().deps()))
	t.Cleanup(srv.Close)
	for _, tt := range []struct {
		query, body string
		want        int
	}{
		{query: "?projection=old", body: `{"projection":"trend"}`, want: 202},
		{query: "?projection=trend", body: `{"projection":"old"}`, want: 422},
		{query: "?projection=old", want: 422},
		{query: "?projection=trend", want: 202},
	} {
		req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/admin/replay"+tt.query, strings.NewReader(tt.body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", docBearer)
		if tt.body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.want {
			t.Errorf("query %q, body %q: got %d %s, want %d", tt.query, tt.body, resp.StatusCode, got, tt.want)
		}
	}
}
