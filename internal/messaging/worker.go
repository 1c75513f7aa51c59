package messaging

import (
	"errors"
	"fmt"
	"time"

	"github.com/ThreeDotsLabs/watermill"
	"github.com/ThreeDotsLabs/watermill/components/cqrs"
	"github.com/ThreeDotsLabs/watermill/message"
	"github.com/ThreeDotsLabs/watermill/message/router/middleware"
)

// WorkerConfig says which handlers one worker process runs.
type WorkerConfig struct {
	AMQPURL         string
	CommandHandlers []cqrs.CommandHandler
	// EventGroups maps a group name (its queue is events.<name>) to the
	// handlers of that group; each group receives every event batch.
	EventGroups map[string][]cqrs.GroupEventHandler
	// MaxRetries bounds the retries of a failing message before it goes to
	// the dead letters.
	MaxRetries int
	Logger     watermill.LoggerAdapter
}

// permanent is implemented by errors that no retry can fix.
type permanent interface{ Permanent() bool }

// NewWorker builds the router that runs the command and event handlers.
func NewWorker(cfg WorkerConfig) (*message.Router, error) {
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = 5
	}
	router, err := message.NewRouter(message.RouterConfig{CloseTimeout: 15 * time.Second}, cfg.Logger)
	if err != nil {
		return nil, err
	}
	dlqPub, err := NewPublisher(cfg.AMQPURL, cfg.Logger)
	if err != nil {
		return nil, fmt.Errorf("dead-letter publisher: %w", err)
	}
	poison, err := middleware.PoisonQueue(dlqPub, DeadLetterTopic)
	if err != nil {
		return nil, err
	}
	retry := middleware.Retry{
		MaxRetries:          cfg.MaxRetries,
		InitialInterval:     200 * time.Millisecond,
		MaxInterval:         5 * time.Second,
		Multiplier:          2,
		RandomizationFactor: 0.2,
		ResetContextOnRetry: true,
		ShouldRetry: func(p middleware.RetryParams) bool {
			var p2 permanent
			return !(errors.As(p.Err, &p2) && p2.Permanent())
		},
		Logger: cfg.Logger,
	}
	// Poison wraps Retry: a message goes to the dead letters only after its
	// retries, and is then acknowledged so it never blocks the queue.
	router.AddMiddleware(poison, retry.Middleware, middleware.Recoverer)

	if len(cfg.CommandHandlers) > 0 {
		cp, err := cqrs.NewCommandProcessorWithConfig(router, cqrs.CommandProcessorConfig{
			GenerateSubscribeTopic: func(p cqrs.CommandProcessorGenerateSubscribeTopicParams) (string, error) {
				return CommandTopic(p.CommandName), nil
			},
			SubscriberConstructor: func(p cqrs.CommandProcessorSubscriberConstructorParams) (message.Subscriber, error) {
				return newSubscriber(cfg.AMQPURL, CommandTopic(p.CommandName), cfg.Logger)
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
				return newSubscriber(cfg.AMQPURL, EventQueue(p.EventGroupName), cfg.Logger)
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
	return router, nil
}
