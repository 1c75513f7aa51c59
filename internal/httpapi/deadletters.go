package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/go-chi/chi/v5"

	"github.com/movietrend/trend/internal/dlq"
)

// DeadLetters lists, requeues and purges the messages that could not be
// handled (internal/dlq on RabbitMQ).
type DeadLetters interface {
	List(ctx context.Context, sel dlq.Selection, limit int) (dlq.Listing, error)
	Requeue(ctx context.Context, sel dlq.Selection) (dlq.RequeueResult, error)
	Purge(ctx context.Context, sel dlq.Selection) (dlq.PurgeResult, error)
}

// deadLetterRoutes mounts the dead-letter admin endpoints (behind
// requireAdmin).
func (s *server) deadLetterRoutes(r chi.Router) {
	r.Get("/dead-letters", s.listDeadLetters)
	r.Post("/dead-letters/requeue", s.requeueDeadLetters)
	r.Post("/dead-letters/purge", s.purgeDeadLetters)
}

// listDeadLetters answers the dead letters, oldest first: ?limit= (1 to
// 10,000, default 1,000), ?id= (repeatable) to pick some; X-Total-Count is
// how many the queue held.
func (s *server) listDeadLetters(w http.ResponseWriter, r *http.Request) {
	if !s.deadLettersAvailable(w) {
		return
	}
	limit, p := intQuery(r, "limit", dlq.DefaultLimit, 1, dlq.MaxLimit)
	if p != nil {
		writeProblem(w, *p)
		return
	}
	sel := dlq.All()
	ids, p := queryValues(r, "id")
	if p != nil {
		writeProblem(w, *p)
		return
	}
	if ids != nil {
		if p := checkIDs("id", ids); p != nil {
			writeProblem(w, *p)
			return
		}
		sel = dlq.ByID(ids...)
	}
	l, err := s.DeadLetters.List(r.Context(), sel, limit)
	if err != nil {
		s.brokerUnavailable(w, r, err, "")
		return
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(l.Total))
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, l.Letters)
}

func (s *server) requeueDeadLetters(w http.ResponseWriter, r *http.Request) {
	sel, ok := s.deadLetterSelection(w, r, false)
	if !ok {
		return
	}
	res, err := s.DeadLetters.Requeue(r.Context(), sel)
	if err != nil {
		s.brokerUnavailable(w, r, err, fmt.Sprintf(" (%d were requeued before the failure)", res.Requeued))
		return
	}
	s.Logger.InfoContext(r.Context(), "dead letters requeued", "requeued", res.Requeued, "skipped", len(res.Skipped), "not_found", res.NotFound)
	writeJSON(w, http.StatusOK, res)
}

func (s *server) purgeDeadLetters(w http.ResponseWriter, r *http.Request) {
	sel, ok := s.deadLetterSelection(w, r, true)
	if !ok {
		return
	}
	res, err := s.DeadLetters.Purge(r.Context(), sel)
	if err != nil {
		s.brokerUnavailable(w, r, err, fmt.Sprintf(" (%d were purged before the failure)", res.Purged))
		return
	}
	s.Logger.InfoContext(r.Context(), "dead letters purged", "purged", res.Purged, "not_found", res.NotFound)
	writeJSON(w, http.StatusOK, res)
}

func (s *server) deadLettersAvailable(w http.ResponseWriter) bool {
	if s.DeadLetters == nil {
		writeProblem(w, Problem{Type: typeNotFound, Status: http.StatusNotFound, Detail: "dead letters are not available in this role"})
		return false
	}
	return true
}

// purgeSelectionDetail says what a purge must send.
const purgeSelectionDetail = `a purge deletes for good: send {"ids": [...]} to purge those dead letters, or {"all": true} to purge every one in the queue when the purge begins; nothing was purged`

// deadLetterSelection reads the body {"ids": [...]} or {"all": true}. An
// empty list or null is refused rather than taken to mean all, or nothing:
// a client that built it by mistake (a Go nil slice encodes as null) would
// otherwise requeue or purge everything; so are ids and all together, and
// an all that is not true.
//
// A requeue (mustSelect false) also takes no body, or {}, to mean every dead
// letter, as it always has: it loses nothing. A purge (mustSelect true) must
// say {"all": true}: with no selection it deleted every letter, ones that
// nobody had seen included (a RecordViews command holds views the API
// already accepted).
func (s *server) deadLetterSelection(w http.ResponseWriter, r *http.Request, mustSelect bool) (dlq.Selection, bool) {
	if !s.deadLettersAvailable(w) {
		return dlq.Selection{}, false
	}
	if s.noBody(w, r) {
		if mustSelect {
			writeProblem(w, validation("", purgeSelectionDetail))
			return dlq.Selection{}, false
		}
		return dlq.All(), true
	}
	obj, p := s.readObject(w, r, "ids", "all")
	if p != nil {
		writeProblem(w, *p)
		return dlq.Selection{}, false
	}
	rawIDs, hasIDs := obj["ids"]
	rawAll, hasAll := obj["all"]
	switch {
	case hasIDs && hasAll:
		writeProblem(w, validation("", `send either "ids" or "all", not both; nothing was done`))
		return dlq.Selection{}, false
	case hasAll:
		var all bool
		if err := json.Unmarshal(rawAll, &all); err != nil || !all {
			detail := `all must be true, to select every dead letter in the queue when the operation begins; send {"ids": [...]} to select some`
			if !mustSelect {
				detail += `, or no body for every one`
			}
			writeProblem(w, validation("all", detail))
			return dlq.Selection{}, false
		}
		return dlq.All(), true
	case !hasIDs:
		if mustSelect {
			writeProblem(w, validation("", purgeSelectionDetail))
			return dlq.Selection{}, false
		}
		return dlq.All(), true
	}
	// Refused like an empty list: a Go client's nil slice encodes as null,
	// and one that selected nothing would otherwise act on every letter.
	if string(rawIDs) == "null" {
		writeProblem(w, validation("ids", `ids must not be null; send {"all": true} to select every dead letter`))
		return dlq.Selection{}, false
	}
	var ids []string
	if err := json.Unmarshal(rawIDs, &ids); err != nil {
		writeProblem(w, validation("ids", "ids must be an array of dead-letter id strings"))
		return dlq.Selection{}, false
	}
	if p := checkIDs("ids", ids); p != nil {
		writeProblem(w, *p)
		return dlq.Selection{}, false
	}
	return dlq.ByID(ids...), true
}

func checkIDs(field string, ids []string) *Problem {
	if len(ids) == 0 {
		hint := "leave it out to select every dead letter"
		if field == "ids" {
			hint = `send {"all": true} to select every dead letter`
		}
		p := validation(field, field+" must not be empty; "+hint)
		return &p
	}
	for _, id := range ids {
		if id == "" {
			p := validation(field, field+" must not contain an empty id")
			return &p
		}
	}
	return nil
}

// brokerUnavailable answers a failure to reach or use RabbitMQ; done says
// what was done before it.
func (s *server) brokerUnavailable(w http.ResponseWriter, r *http.Request, err error, done string) {
	s.Logger.ErrorContext(r.Context(), "dead-letter request failed", "path", r.URL.Path, "error", err)
	detail := "RabbitMQ is unreachable or failed: the dead letters cannot be read or changed right now; retry shortly"
	// A requeue stopped waiting for a confirm: the letter it was sending
	// stays, but its copy may be out (at least once, as the README says).
	const stopped = "the requeue stopped: the letter it was sending stays in the dead letters, but its copy may have been published anyway, so it may be delivered twice (the handlers ignore what they already handled); retry once the alarm clears"
	switch {
	case errors.Is(err, dlq.ErrBusy):
		detail = "another dead-letter operation has held the dead letters for 30 s; retry shortly"
	case errors.Is(err, dlq.ErrBlocked):
		detail = "RabbitMQ is blocking publishers: resource alarm (memory or disk); " + stopped
	case errors.Is(err, dlq.ErrNotConfirmed):
		detail = "RabbitMQ did not confirm a requeued letter in time (it may be under a resource alarm, memory or disk); " + stopped
	}
	writeProblem(w, Problem{Type: typeUnavailable, Status: http.StatusServiceUnavailable, Detail: detail + done})
}
