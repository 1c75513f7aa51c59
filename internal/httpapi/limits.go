package httpapi

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// clientLimiter limits each client (by remote IP) to a rate of write
// requests, so that one client's flood cannot crowd out the others.
type clientLimiter struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	clients map[string]*clientEntry
	swept   time.Time
}

type clientEntry struct {
	lim  *rate.Limiter
	seen time.Time
}

func newClientLimiter(perSecond float64, burst int) *clientLimiter {
	if burst < 1 {
		burst = max(1, int(math.Ceil(perSecond)))
	}
	return &clientLimiter{rate: rate.Limit(perSecond), burst: burst, clients: map[string]*clientEntry{}}
}

// reserve tells whether the client may go on, and if not, how long to wait.
func (l *clientLimiter) reserve(client string, now time.Time) (bool, time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Forget idle clients now and then, so the map stays small.
	if now.Sub(l.swept) > time.Minute {
		for k, e := range l.clients {
			if now.Sub(e.seen) > time.Minute {
				delete(l.clients, k)
			}
		}
		l.swept = now
	}
	e := l.clients[client]
	if e == nil {
		e = &clientEntry{lim: rate.NewLimiter(l.rate, l.burst)}
		l.clients[client] = e
	}
	e.seen = now
	r := e.lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientIP is the client the rate limit counts: its IPv4 address, or its
// IPv6 /64, the block one subscriber gets (each of its addresses had a
// rate of its own).
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.Prefix(64); err == nil {
			return p.String()
		}
	}
	return host
}

// limitWrites answers 429 with Retry-After to a client over its rate on
// the write endpoints (POST); reads and the admin API are not limited.
func (s *server) limitWrites(next http.Handler) http.Handler {
	if s.RateLimit <= 0 {
		return next
	}
	l := newClientLimiter(s.RateLimit, s.RateBurst)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost && !strings.HasPrefix(r.URL.Path, "/api/admin/") {
			if ok, wait := l.reserve(clientIP(r), time.Now()); !ok {
				w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
				writeProblem(w, Problem{Type: typeTooMany, Status: http.StatusTooManyRequests,
					Detail: "too many requests from this client; retry after the time in Retry-After"})
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// cors lets browsers on the allowed origins call the API. By default the
// list is empty: only the API's own origin (the embedded dashboard, or
// NGINX in front of both) can, which needs no CORS at all.
func (s *server) cors(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(s.CORSOrigins, origin)
		if len(s.CORSOrigins) > 0 {
			// The answer depends on the Origin, whether allowed, refused or
			// absent: a shared cache must not give one origin's answer to
			// another.
			w.Header().Add("Vary", "Origin")
		}
		if allowed {
			h := w.Header()
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Expose-Headers", "Location, X-Total-Count, Retry-After, X-Request-Id")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !allowed {
				writeProblem(w, Problem{Type: typeForbidden, Status: http.StatusForbidden,
					Detail: "this origin may not call the API (see CORS_ALLOWED_ORIGINS)"})
				return
			}
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", "GET, POST")
			h.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Request-Id")
			h.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		next.ServeHTTP(w, r)
	})
}
