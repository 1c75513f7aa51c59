package messaging

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/pubsub/gochannel"
)

// The middleware runs in a real router, so the handler names it matches
// are the router's own.
func TestSkipUninterested(t *testing.T) {
	wants := map[string][]string{"tmdb-enrichment": {"MovieRegistered", "MovieRefreshRequested"}}
	pubsub := gochannel.NewGoChannel(gochannel.Config{BlockPublishUntilSubscriberAck: true}, watermill.NopLogger{})
	router, err := message.NewRouter(message.RouterConfig{}, watermill.NopLogger{})
	if err != nil {
		t.Fatal(err)
	}
	router.AddMiddleware(skipUninterested(wants))
	var mu sync.Mutex
	got := map[string][]string{}
	for _, name := range []string{"tmdb-enrichment", "trend-projection"} {
		router.AddConsumerHandler(name, name, pubsub, func(msg *message.Message) error {
			mu.Lock()
			defer mu.Unlock()
			got[name] = append(got[name], msg.UUID)
			return nil
		})
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- router.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()
	<-router.Running()

	batches := []struct{ id, types string }{
		{"views", "ViewRecorded"},
		{"registration", "MovieRegistered,ViewRecorded"},
		{"refresh", "MovieRefreshRequested"},
		{"unlabelled", ""}, // published before the label existed: decoded as ever
	}
	for _, topic := range []string{"tmdb-enrichment", "trend-projection"} {
		for _, b := range batches {
			msg := message.NewMessage(b.id, nil)
			if b.types != "" {
				msg.Metadata.Set(EventTypesKey, b.types)
			}
			// Returns once the handler (or the middleware) acknowledged it.
			if err := pubsub.Publish(topic, msg); err != nil {
				t.Fatal(err)
			}
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if want := []string{"registration", "refresh", "unlabelled"}; !slices.Equal(got["tmdb-enrichment"], want) {
		t.Errorf("enrichment handled %v, want %v", got["tmdb-enrichment"], want)
	}
	if want := []string{"views", "registration", "refresh", "unlabelled"}; !slices.Equal(got["trend-projection"], want) {
		t.Errorf("a handler without a list handled %v, want every batch %v", got["trend-projection"], want)
	}
}
