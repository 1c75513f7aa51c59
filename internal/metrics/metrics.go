// Package metrics exposes the service's Prometheus metrics: HTTP latency by
// route and status, messages handled, failed, retried and dead-lettered per
// handler, TMDB calls, and the pipeline's state (outbox backlog, relay lag,
// projection lag, replay progress) read at scrape time.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics is one registry and the service's instruments.
type Metrics struct {
	Registry *prometheus.Registry

	httpDuration *prometheus.HistogramVec
	messages     *prometheus.CounterVec
	retries      *prometheus.CounterVec
	handleTime   *prometheus.HistogramVec
	tmdbRequests *prometheus.CounterVec
	tmdbDuration prometheus.Histogram
	tmdbCircuit  prometheus.Gauge
	relayed      prometheus.Counter

	attempts sync.Map // *message.Message -> *int: attempts of a message in hand
}

// New registers the instruments (and Go and process collectors).
func New() *Metrics {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m := &Metrics{
		Registry: r,
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "trend_http_request_duration_seconds",
			Help:    "HTTP request latency by route pattern, method and status.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route", "method", "status"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trend_messages_total",
			Help: "Messages by handler and outcome: handled, failed (left for redelivery) or dead_lettered.",
		}, []string{"handler", "outcome"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trend_message_retries_total",
			Help: "Retries of failed messages, by handler.",
		}, []string{"handler"}),
		handleTime: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "trend_message_handle_duration_seconds",
			Help: "Time to handle one message (one attempt), by handler.",
			// Up to 12 s, then the bounds that matter past it: a shared
			// commit's 30 s, a TMDB call's retries (minutes), a stuck
			// handler's 30 minutes (liveness).
			Buckets: append(prometheus.ExponentialBuckets(0.0005, 2.5, 12), 30, 60, 300, 1800),
		}, []string{"handler"}),
		tmdbRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "trend_tmdb_requests_total",
			Help: "Requests to TMDB by HTTP status code (\"error\" when no answer came).",
		}, []string{"code"}),
		tmdbDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "trend_tmdb_request_duration_seconds",
			Help:    "TMDB request latency.",
			Buckets: prometheus.ExponentialBuckets(0.005, 2.5, 10),
		}),
		tmdbCircuit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "trend_tmdb_circuit_open",
			Help: "1 while the TMDB client refuses calls after too many failures in a row (from the circuit's opening until an answer closes it), else 0.",
		}),
		relayed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "trend_relay_messages_total",
			Help: "Outbox messages the relay published and RabbitMQ confirmed (each message of a bundle counts).",
		}),
	}
	r.MustRegister(m.httpDuration, m.messages, m.retries, m.handleTime, m.tmdbRequests, m.tmdbDuration, m.tmdbCircuit, m.relayed)
	return m
}

// Relayed counts n outbox messages forwarded (confirmed by RabbitMQ).
func (m *Metrics) Relayed(n int) { m.relayed.Add(float64(n)) }

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}

// HTTP measures requests by chi route pattern (not raw path: ids would
// explode the label set). Register it outside the middleware that may
// answer before routing (rate limit, CORS preflight) or that turns a panic
// into a 500, so that those answers are measured too. A panic going
// through it is measured as a 500 and goes on unwinding (to the
// recoverer).
func (m *Metrics) HTTP(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		panicked := true
		// Deferred, so that a panic is measured: recover() is not called,
		// the panic unwinds on as it was.
		defer func() {
			status := rw.status
			if panicked {
				status = http.StatusInternalServerError
			}
			m.httpDuration.WithLabelValues(routeLabel(r), methodLabel(r.Method), strconv.Itoa(status)).Observe(time.Since(start).Seconds())
		}()
		next.ServeHTTP(rw, r)
		panicked = false
	})
}

// routeLabel is the route pattern r was routed to. A request answered
// before routing (a 429 of the rate limit, a CORS preflight) has none:
// it is labelled with the pattern the router would route it to (a
// preflight: with the method it asks for), so the label stays one of the
// router's patterns; "unmatched" when there is none.
func routeLabel(r *http.Request) string {
	rc := chi.RouteContext(r.Context())
	if rc == nil {
		return "unmatched"
	}
	// RoutePattern builds its string anew on every call.
	if p := rc.RoutePattern(); p != "" {
		return p
	}
	if rc.Routes == nil {
		return "unmatched"
	}
	method := r.Method
	if method == http.MethodOptions {
		if m := r.Header.Get("Access-Control-Request-Method"); m != "" {
			method = m
		}
	}
	path := r.URL.RawPath
	if path == "" {
		path = r.URL.Path
	}
	if path == "" {
		path = "/"
	}
	if p := rc.Routes.Find(chi.NewRouteContext(), method, path); p != "" {
		return p
	}
	return "unmatched"
}

// methodLabel is a request's method as a label value: HTTP's own methods,
// and "other" for the rest. A client may send any token as a method, and
// each would otherwise be a series of its own, kept for the process's life.
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions, http.MethodConnect, http.MethodTrace:
		return method
	}
	return "other"
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach Flush (for the SSE stream).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Outcome is the outermost message middleware: it counts each message once
// by its final outcome. A message the poison middleware dead-lettered
// comes back as handled: DeadLetterPublisher counts those.
func (m *Metrics) Outcome(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		name := HandlerName(msg)
		n := new(int)
		m.attempts.Store(msg, n)
		defer m.attempts.Delete(msg)
		out, err := h(msg)
		switch {
		case err != nil:
			m.messages.WithLabelValues(name, "failed").Inc()
		case msg.Metadata.Get(middleware.ReasonForPoisonedKey) == "":
			m.messages.WithLabelValues(name, "handled").Inc()
		}
		return out, err
	}
}

// Attempt is the innermost message middleware: it times each attempt and
// counts the retries.
func (m *Metrics) Attempt(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		name := HandlerName(msg)
		if v, ok := m.attempts.Load(msg); ok {
			n := v.(*int)
			*n++
			if *n > 1 {
				m.retries.WithLabelValues(name).Inc()
			}
		}
		start := time.Now()
		out, err := h(msg)
		m.handleTime.WithLabelValues(name).Observe(time.Since(start).Seconds())
		return out, err
	}
}

// DeadLetterPublisher wraps the dead-letter publisher to count what it
// publishes, by the handler that gave up on it.
func (m *Metrics) DeadLetterPublisher(p message.Publisher) message.Publisher {
	return deadLetters{Publisher: p, m: m}
}

type deadLetters struct {
	message.Publisher
	m *Metrics
}

func (d deadLetters) Publish(topic string, msgs ...*message.Message) error {
	if err := d.Publisher.Publish(topic, msgs...); err != nil {
		return err
	}
	for _, msg := range msgs {
		// The name the poison middleware recorded is the router's, with
		// the subscription's "#k": counted under the handler's own name,
		// as Outcome counts the other outcomes.
		d.m.messages.WithLabelValues(baseHandlerName(msg.Metadata.Get(middleware.PoisonedHandlerKey)), "dead_lettered").Inc()
	}
	return nil
}

// TMDBTransport measures the requests to TMDB.
func (m *Metrics) TMDBTransport(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return roundTripper(func(r *http.Request) (*http.Response, error) {
		start := time.Now()
		resp, err := next.RoundTrip(r)
		m.tmdbDuration.Observe(time.Since(start).Seconds())
		code := "error"
		if err == nil {
			code = strconv.Itoa(resp.StatusCode)
		}
		m.tmdbRequests.WithLabelValues(code).Inc()
		return resp, err
	})
}

// TMDBCircuit sets trend_tmdb_circuit_open (tmdb.Config.OnCircuitChange).
func (m *Metrics) TMDBCircuit(open bool) {
	v := 0.0
	if open {
		v = 1
	}
	m.tmdbCircuit.Set(v)
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// State is what the pipeline collector reads at scrape time.
type State struct {
	OutboxBacklog        float64
	RelayLagSeconds      float64
	ProjectionLagSeconds float64 // -1 if unknown
	ProjectionLagEvents  float64
	LogHead              float64
	DeadLetters          float64 // -1 if unknown
	ReplayDone           float64
	ReplayTotal          float64
	ReplayRunning        bool
}

// StateFunc reads the state; it is called once per scrape.
type StateFunc func(ctx context.Context) (State, error)

// WatchPipeline registers gauges read from f at scrape time.
func (m *Metrics) WatchPipeline(f StateFunc, log *slog.Logger) {
	m.Registry.MustRegister(&pipelineCollector{f: f, log: log})
}

var (
	descBacklog   = prometheus.NewDesc("trend_outbox_backlog", "Outbox messages not yet forwarded to RabbitMQ.", nil, nil)
	descRelayLag  = prometheus.NewDesc("trend_relay_lag_seconds", "Age of the oldest outbox message not yet forwarded.", nil, nil)
	descProjLag   = prometheus.NewDesc("trend_projection_lag_seconds", "How long the oldest event the trend projection has not applied has waited (0 when caught up).", nil, nil)
	descProjLagEv = prometheus.NewDesc("trend_projection_lag_events", "Log positions from the first event the trend projection has not applied to the head: at most the events it has not applied (positions have gaps).", nil, nil)
	descLogHead   = prometheus.NewDesc("trend_event_log_head", "Position of the newest event in the log.", nil, nil)
	descDead      = prometheus.NewDesc("trend_dead_letters", "Messages in the dead-letter queue.", nil, nil)
	descReplay    = prometheus.NewDesc("trend_replay_events", "Events done and in total of the newest replay.", []string{"kind"}, nil)
	descReplayRun = prometheus.NewDesc("trend_replay_running", "1 while a replay runs.", nil, nil)
)

type pipelineCollector struct {
	f   StateFunc
	log *slog.Logger
}

func (c *pipelineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBacklog, descRelayLag, descProjLag, descProjLagEv, descLogHead, descDead, descReplay, descReplayRun} {
		ch <- d
	}
}

// collectTimeout bounds a scrape's wait for the pipeline's state: longer
// than the snapshot's RabbitMQ part may take (3 s), so that a broker that
// stalls costs the queue figures alone, not every gauge, PostgreSQL's
// included (the scrape gave up at 3 s, just as the snapshot did); under
// Prometheus's default scrape timeout of 10 s.
const collectTimeout = 8 * time.Second

func (c *pipelineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), collectTimeout)
	defer cancel()
	s, err := c.f(ctx)
	if err != nil {
		c.log.Warn("metrics: read the pipeline state", "error", err)
		return
	}
	g := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	g(descBacklog, s.OutboxBacklog)
	g(descRelayLag, s.RelayLagSeconds)
	if s.ProjectionLagSeconds >= 0 {
		g(descProjLag, s.ProjectionLagSeconds)
	}
	g(descProjLagEv, s.ProjectionLagEvents)
	g(descLogHead, s.LogHead)
	if s.DeadLetters >= 0 {
		g(descDead, s.DeadLetters)
	}
	g(descReplay, s.ReplayDone, "done")
	g(descReplay, s.ReplayTotal, "total")
	running := 0.0
	if s.ReplayRunning {
		running = 1
	}
	g(descReplayRun, running)
}

// HandlerName names the handler handling msg. A handler consuming its
// queue through several subscriptions is registered with the router once
// per subscription, as "name#k"; they all count as "name".
func HandlerName(msg *message.Message) string {
	return baseHandlerName(message.HandlerNameFromCtx(msg.Context()))
}

// baseHandlerName is a router handler name without its subscription
// suffix: "RecordViews#17" is "RecordViews".
func baseHandlerName(name string) string {
	name, _, _ = strings.Cut(name, "#")
	return name
}

// WatchFastLane reports the API's fast lane (internal/fastlane): requests
// it answered itself, and connections it handed to net/http.
func (m *Metrics) WatchFastLane(stats func() (served, handedOff uint64)) {
	m.Registry.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "trend_http_fast_lane_requests_total",
			Help: "Requests the API's fast lane read and answered itself (simple POST /api/movies/view and GET /api/movies requests).",
		}, func() float64 { s, _ := stats(); return float64(s) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "trend_http_fast_lane_handoffs_total",
			Help: "Connections the API's fast lane handed to net/http, at their first request it does not serve.",
		}, func() float64 { _, h := stats(); return float64(h) }),
	)
}
