package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"

	"github.com/movietrend/trend/events"
	"github.com/movietrend/trend/internal/metrics"
)

// WorkerConfig says which handlers one worker process runs.
type WorkerConfig struct {
	AMQPURL         string
	CommandHandlers []cqrs.CommandHandler
	// EventGroups maps a group name (its queue is events.<name>) to the
	// handlers of that group; each group receives every event batch with
	// an event other than a view (and, if it is one of the topology's
	// ViewGroups, the batches of views alone too).
	EventGroups map[string][]cqrs.GroupEventHandler
	// Batched are the handlers that consume their queue through several
	// subscriptions feeding one group commit (the hot paths).
	Batched []BatchedHandler
	// EventTypes, for an event group, lists the only event types it acts
	// on: batches whose metadata (EventTypesKey) names none of them are
	// acknowledged without being decoded.
	EventTypes map[string][]string
	// MaxRetries bounds the retries of a failing message before it goes to
	// the dead letters.
	MaxRetries int
	// Healthy, if set, checks the database (a ping) before a message whose
	// retries are spent goes to the dead letters: while it fails, the
	// message goes back to its queue instead (see Unavailable).
	Healthy func(context.Context) error
	Logger  watermill.LoggerAdapter
	// Log receives one line per message (debug when handled, warn when it
	// failed), with its correlation id.
	Log *slog.Logger
	// Metrics, if set, counts messages per handler and outcome.
	Metrics *metrics.Metrics
	// Attempt, if set, wraps every attempt at a message (inside the
	// retries).
	Attempt message.HandlerMiddleware
	// Deliveries, if set, records when each subscription last handed the
	// worker a message or saw one settled, and what it holds (for Stalls).
	Deliveries *Deliveries
}

// subscriber consumes queue, its deliveries recorded if cfg asks.
func (cfg WorkerConfig) subscriber(queue string) (message.Subscriber, error) {
	sub, err := newSubscriber(cfg.AMQPURL, queue, cfg.Logger)
	if err != nil || cfg.Deliveries == nil {
		return sub, err
	}
	return cfg.Deliveries.Watch(sub, queue), nil
}

// logMessages logs each attempt with the message's correlation id, which
// the API set from the HTTP request id: one request can be followed
// through every message it caused.
func logMessages(log *slog.Logger) message.HandlerMiddleware {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return func(msg *message.Message) ([]*message.Message, error) {
			start := time.Now()
			out, err := h(msg)
			attrs := []any{"handler", metrics.HandlerName(msg), "message_id", msg.UUID,
				"correlation_id", middleware.MessageCorrelationID(msg), "took", time.Since(start).String()}
			if err != nil {
				log.Warn("message failed", append(attrs, "error", err)...)
			} else {
				log.Debug("message handled", attrs...)
			}
			return out, err
		}
	}
}

// permanent is implemented by errors that no retry can fix.
type permanent interface{ Permanent() bool }

// PermanentError marks err as one no retry can fix: the message goes to
// the dead letters at once instead of holding its queue through retries.
func PermanentError(err error) error { return permanentError{err} }

type permanentError struct{ error }

func (permanentError) Permanent() bool { return true }
func (e permanentError) Unwrap() error { return e.error }

// Permanent tells whether no retry can fix err: a payload that is not
// JSON of the message's type, an event this build cannot decode, or an
// error that says so. Such a message goes to the dead letters at once
// instead of holding its queue through the retries. io.ErrUnexpectedEOF
// is not among them: it is also what pgx returns when PostgreSQL's
// connection drops mid-statement, which a retry on a new connection
// fixes (a truncated payload fails as a *json.SyntaxError).
func Permanent(err error) bool {
	var p permanent
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	return errors.As(err, &p) && p.Permanent() || errors.As(err, &syntax) || errors.As(err, &typ) ||
		errors.Is(err, events.ErrUndecodable)
}

// failureHandling is what becomes of a message its handler failed:
// retries (maxRetries, backing off from 200 ms to 5 s) unless the error is
// permanent, then the dead letters, and an acknowledgement so that it
// never blocks its queue. But a message is not poisoned, whatever its
// handler returned, when the worker's shutdown cut its handling short
// (SIGTERM, a rolling update: its context cancelled), or when the
// database is what failed (undeliverable): the error nacks it back to its
// queue, for the next worker or the next try.
func failureHandling(dlqPub message.Publisher, maxRetries int, healthy func(context.Context) error, logger watermill.LoggerAdapter) (message.HandlerMiddleware, error) {
	poison, err := middleware.PoisonQueueWithFilter(dlqPub, DeadLetterTopic, undeliverable(healthy))
	if err != nil {
		return nil, err
	}
	retry := middleware.Retry{
		MaxRetries:          maxRetries,
		InitialInterval:     200 * time.Millisecond,
		MaxInterval:         5 * time.Second,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ResetContextOnRetry: true,
		ShouldRetry:         func(p middleware.RetryParams) bool { return !Permanent(p.Err) },
		Logger:              logger,
	}
	return func(h message.HandlerFunc) message.HandlerFunc {
		return poison(stopping(retry.Middleware(h)))
	}, nil
}

// errStopping marks a failure that the worker's shutdown caused.
var errStopping = errors.New("the worker is stopping")

// stopping marks the error of a message whose context has ended. The
// error itself may not say so: a bundle's reports its messages' errors as
// text, and the retries give up with the last error they saw.
func stopping(h message.HandlerFunc) message.HandlerFunc {
	return func(msg *message.Message) ([]*message.Message, error) {
		out, err := h(msg)
		if err != nil && msg.Context().Err() != nil {
			err = fmt.Errorf("%w: %w", errStopping, err)
		}
		return out, err
	}
}

// Worker is the router that runs the command and event handlers, with
// the dead-letter publisher its failures go to, whose connection Run
// closes when the router has stopped.
type Worker struct {
	*message.Router
	deadLetters *deadLetterPublisher
}

// Run runs the router until ctx ends (see message.Router.Run), then
// closes the dead-letter publisher's connection.
func (w *Worker) Run(ctx context.Context) error {
	defer w.deadLetters.Close()
	return w.Router.Run(ctx)
}

// NewWorker builds the worker that runs the command and event handlers.
func NewWorker(cfg WorkerConfig) (*Worker, error) {
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	deadLetters := newDeadLetterPublisher(cfg.AMQPURL)
	var dlqPub message.Publisher = deadLetters
	if cfg.Metrics != nil {
		dlqPub = cfg.Metrics.DeadLetterPublisher(dlqPub)
	}
	failures, err := failureHandling(dlqPub, cfg.MaxRetries, cfg.Healthy, cfg.Logger)
	if err != nil {
		return nil, err
	}
	if cfg.Metrics != nil {
		router.AddMiddleware(cfg.Metrics.Outcome)
	}
	router.AddMiddleware(failures)
	if cfg.Attempt != nil {
		router.AddMiddleware(cfg.Attempt)
	}
	if cfg.Metrics != nil {
		router.AddMiddleware(cfg.Metrics.Attempt)
	}
	router.AddMiddleware(logMessages(cfg.Log), middleware.Recoverer, skipUninterested(cfg.EventTypes))

	if len(cfg.CommandHandlers) > 0 {
		cp, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
			GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
				return CommandTopic(p.CommandName), nil
			},
			SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
				return cfg.subscriber(CommandTopic(p.CommandName))
			},
			Marshaler: marshaler,
			Logger:    cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		if err := cp.AddHandlers(cfg.CommandHandlers...); err != nil {
			return nil, err
		}
	}
	if len(cfg.EventGroups) > 0 {
		ep, err := cqrs.NewEventGroupProcessorWithConfig(router, cqrs.EventGroupProcessorConfig{
			GenerateSubscribeTopic: func(cqrs.EventGroupProcessorGenerateSubscribeTopicParams) (string, error) {
				return EventsTopic, nil
			},
			SubscriberConstructor: func(p cqrs.EventGroupProcessorSubscriberConstructorParams) (message.Subscriber, error) {
				return cfg.subscriber(EventQueue(p.EventGroupName))
			},
			// Every group's queue gets every event type; a group acks those
			// it has no handler for.
			AckOnUnknownEvent: true,
			Marshaler:         marshaler,
			Logger:            cfg.Logger,
		})
		if err != nil {
			return nil, err
		}
		for name, hs := range cfg.EventGroups {
			if err := ep.AddHandlersGroup(name, hs...); err != nil {
				return nil, err
			}
		}
	}
	for _, h := range cfg.Batched {
		sub, err := cfg.subscriber(h.Queue)
		if err != nil {
			return nil, err
		}
		addBatched(router, h, sub)
	}
	return &Worker{Router: router, deadLetters: deadLetters}, nil
}
