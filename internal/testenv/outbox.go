package testenv

import (
	"encoding/json"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/movietrend/trend/internal/messaging"
)

// OutboxMessage is a message in the outbox, as its consumers will get it.
type OutboxMessage struct {
	Topic   string
	UUID    string
	Payload []byte // decompressed
}

// Outbox reads the outbox in order, unwrapping the forwarder's envelope
// and decompressing each payload.
func Outbox(t *testing.T, pool *pgxpool.Pool) []OutboxMessage {
	t.Helper()
	rows, err := pool.Query(t.Context(), `SELECT payload FROM watermill_outbox ORDER BY "offset"`)
	if err != nil {
		t.Fatal(err)
	}
	raws, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		t.Fatal(err)
	}
	var out []OutboxMessage
	for _, raw := range raws {
		var env struct {
			DestinationTopic string            `json:"destination_topic"`
			UUID             string            `json:"uuid"`
			Payload          []byte            `json:"payload"`
			Metadata         map[string]string `json:"metadata"`
		}
		if err := json.Unmarshal(raw, &env); err != nil {
			t.Fatal(err)
		}
		payload, err := messaging.DecodePayload(env.Metadata[messaging.EncodingKey], env.Payload)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, OutboxMessage{env.DestinationTopic, env.UUID, payload})
	}
	return out
}
