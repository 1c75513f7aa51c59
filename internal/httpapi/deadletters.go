package httpapi

import (
	"github.com/go-chi/chi/v5"
)

// DeadLetters lists and requeues the messages that could not be handled.
type DeadLetters interface{}

// deadLetterRoutes mounts the dead-letter admin endpoints (behind
// requireAdmin).
func (s *server) deadLetterRoutes(r chi.Router) {}
