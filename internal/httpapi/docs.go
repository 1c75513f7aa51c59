package httpapi

import "github.com/go-chi/chi/v5"

// docsRoutes mounts the OpenAPI document and the interactive API docs.
func (s *server) docsRoutes(r chi.Router) {}
