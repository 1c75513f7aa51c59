package metrics

import (
	"context"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// Any token is a method to net/http, and clients choose it: methods of
// their own must not each make a series.
func TestHTTPMethodsOfClientsOwnShareOneSeries(t *testing.T) {
	m := New()
	h := m.HTTP(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusMethodNotAllowed) }))
	for _, method := range []string{"FOO1", "FOO2", "BREW", "get", http.MethodGet, http.MethodPost, http.MethodPost} {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, "/x", nil))
	}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]uint64{} // requests counted by method label
	for _, mf := range mfs {
		if mf.GetName() != "trend_http_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "method" {
					got[l.GetValue()] += mt.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if want := map[string]uint64{"other": 4, http.MethodGet: 1, http.MethodPost: 2}; !maps.Equal(got, want) {
		t.Errorf("requests by method label: %v, want %v", got, want)
	}
}

// counterValue is the value of the counter name with labels, 0 if none.
func counterValue(t *testing.T, m *Metrics, name string, labels map[string]string) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range mt.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if got[k] != v {
					continue next
				}
			}
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}

type discardPublisher struct{}

func (discardPublisher) Publish(string, ...*message.Message) error { return nil }
func (discardPublisher) Close() error                              { return nil }

// A handler consuming through several subscriptions is "name#k" to the
// router, and so in the poison middleware's metadata: dead letters count
// under the handler's own name, as its other outcomes do.
func TestDeadLettersCountUnderTheHandlersName(t *testing.T) {
	m := New()
	p := m.DeadLetterPublisher(discardPublisher{})
	for _, name := range []string{"RecordViews", "RecordViews#2", "RecordViews#17"} {
		msg := message.NewMessage(watermill.NewUUID(), nil)
		msg.Metadata.Set(middleware.PoisonedHandlerKey, name)
		if err := p.Publish("dead_letters", msg); err != nil {
			t.Fatal(err)
		}
	}
	if got := counterValue(t, m, "trend_messages_total", map[string]string{"handler": "RecordViews", "outcome": "dead_lettered"}); got != 3 {
		t.Errorf("dead_lettered of RecordViews: %v, want 3", got)
	}
	for _, name := range []string{"RecordViews#2", "RecordViews#17"} {
		if got := counterValue(t, m, "trend_messages_total", map[string]string{"handler": name}); got != 0 {
			t.Errorf("a series for handler %q: %v, want none", name, got)
		}
	}
}

// A panic going through HTTP is measured as a 500, and goes on (to the
// recoverer further out) unchanged.
func TestHTTPMeasuresAPanicAs500(t *testing.T) {
	m := New()
	h := m.HTTP(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") }))
	func() {
		defer func() {
			if v := recover(); v != "boom" {
				t.Errorf("recovered %v, want the handler's panic", v)
			}
		}()
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/x", nil))
		t.Error("the panic did not go on")
	}()
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var n uint64
	for _, mf := range mfs {
		if mf.GetName() != "trend_http_request_duration_seconds" {
			continue
		}
		for _, mt := range mf.GetMetric() {
			for _, l := range mt.GetLabel() {
				if l.GetName() == "status" && l.GetValue() == "500" {
					n += mt.GetHistogram().GetSampleCount()
				}
			}
		}
	}
	if n != 1 {
		t.Errorf("requests measured as 500: %d, want 1", n)
	}
}

// A pipeline snapshot slowed by RabbitMQ (its part may take 3 s before it
// gives up on the queues) still yields the gauges it read from
// PostgreSQL: the scrape waited 3 s in all, and reported none of them.
func TestASlowSnapshotStillReportsTheGauges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		m := New()
		m.WatchPipeline(func(ctx context.Context) (State, error) {
			select {
			case <-time.After(4 * time.Second):
				return State{OutboxBacklog: 7, DeadLetters: -1}, nil
			case <-ctx.Done():
				return State{}, ctx.Err()
			}
		}, slog.New(slog.DiscardHandler))
		mfs, err := m.Registry.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			if mf.GetName() == "trend_outbox_backlog" {
				if v := mf.GetMetric()[0].GetGauge().GetValue(); v != 7 {
					t.Errorf("trend_outbox_backlog %v, want 7", v)
				}
				return
			}
		}
		t.Error("no trend_outbox_backlog after a 4 s snapshot")
	})
}

// A projection lag of unknown age (-1) is left out, not reported as a
// lag of -1 s; the lag in events is still reported.
func TestAnUnknownProjectionLagIsLeftOut(t *testing.T) {
	m := New()
	m.WatchPipeline(func(context.Context) (State, error) {
		return State{ProjectionLagSeconds: -1, ProjectionLagEvents: 3, DeadLetters: -1}, nil
	}, slog.New(slog.DiscardHandler))
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var events bool
	for _, mf := range mfs {
		switch mf.GetName() {
		case "trend_projection_lag_seconds":
			t.Errorf("trend_projection_lag_seconds %v, want none", mf.GetMetric()[0].GetGauge().GetValue())
		case "trend_projection_lag_events":
			events = mf.GetMetric()[0].GetGauge().GetValue() == 3
		}
	}
	if !events {
		t.Error("trend_projection_lag_events is not 3")
	}
}
