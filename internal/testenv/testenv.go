// Package testenv gives integration tests their own PostgreSQL database and
// their own RabbitMQ virtual host, on the real servers `make services`
// starts, so tests run in parallel without seeing each other's data.
package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	amqp "github.com/rabbitmq/amqp091-go"

	"github.com/movietrend/trend/internal/postgres"
)

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// AdminDatabaseURL is a database the tests may connect to, as a role that
// may create databases (TEST_DATABASE_URL).
func AdminDatabaseURL() string {
	return env("TEST_DATABASE_URL", "postgres://trend:trend@localhost:5432/trend?sslmode=disable")
}

func withDatabase(raw, name string) string {
	u, _ := url.Parse(raw)
	u.Path = "/" + name
	return u.String()
}

func unique(prefix string) string {
	return prefix + strings.ReplaceAll(uuid.NewString(), "-", "")[:16]
}

func hint(err error) error {
	return fmt.Errorf("%w (are PostgreSQL and RabbitMQ running? `make services` starts them)", err)
}

// templateName changes whenever a migration changes, so a stale template
// is never used.
func templateName() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(postgres.Migrations, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(postgres.Migrations, path)
		h.Write([]byte(path))
		h.Write(b)
		return err
	})
	return "trend_test_template_" + hex.EncodeToString(h.Sum(nil))[:12], err
}

// ensureTemplate creates the migrated template database once; an advisory
// lock serialises test processes of different packages.
func ensureTemplate(ctx context.Context, admin *pgx.Conn) (string, error) {
	name, err := templateName()
	if err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `SELECT pg_advisory_lock(727205)`); err != nil {
		return "", err
	}
	defer admin.Exec(context.Background(), `SELECT pg_advisory_unlock(727205)`) //nolint:errcheck
	var exists bool
	if err := admin.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)`, name).Scan(&exists); err != nil {
		return "", err
	}
	if exists {
		return name, nil
	}
	building := name + "_building"
	if _, err := admin.Exec(ctx, `DROP DATABASE IF EXISTS `+building+` WITH (FORCE)`); err != nil {
		return "", err
	}
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+building); err != nil {
		return "", err
	}
	pool, err := pgxpool.New(ctx, withDatabase(AdminDatabaseURL(), building))
	if err != nil {
		return "", err
	}
	err = postgres.Migrate(ctx, pool, slog.New(slog.DiscardHandler))
	pool.Close()
	if err != nil {
		return "", err
	}
	// Renamed only when complete: a half-built template is never used.
	if _, err := admin.Exec(ctx, `ALTER DATABASE `+building+` RENAME TO `+name); err != nil {
		return "", err
	}
	return name, nil
}

// DatabaseURL creates a migrated database for this test, dropped when the
// test ends, and returns its URL.
func DatabaseURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, AdminDatabaseURL())
	if err != nil {
		t.Fatal(hint(err))
	}
	defer admin.Close(context.Background())
	tmpl, err := ensureTemplate(ctx, admin)
	if err != nil {
		t.Fatalf("template database: %v", err)
	}
	name := unique("trend_test_")
	for attempt := 0; ; attempt++ {
		_, err = admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE `+tmpl)
		var pgErr *pgconn.PgError
		// 55006: another session is still connected to the template.
		if err == nil || attempt == 20 || !(asPgErr(err, &pgErr) && pgErr.Code == "55006") {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, AdminDatabaseURL())
		if err != nil {
			t.Errorf("drop test database: %v", err)
			return
		}
		defer c.Close(ctx)
		// An autovacuum worker (run by the server's superuser, which our role
		// may not terminate) can hold the database for a moment after a test
		// wrote many rows: try again for a while. A database left behind is
		// litter, not a failure of the test.
		for attempt := 0; ; attempt++ {
			_, err = c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`)
			if err == nil {
				return
			}
			if attempt == 40 || ctx.Err() != nil {
				t.Logf("test database %s left behind: %v", name, err)
				return
			}
			time.Sleep(250 * time.Millisecond)
		}
	})
	return withDatabase(AdminDatabaseURL(), name)
}

func asPgErr(err error, target **pgconn.PgError) bool {
	e, ok := err.(*pgconn.PgError)
	if ok {
		*target = e
	}
	return ok
}

// Pool opens a pool on a fresh database for this test.
func Pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), DatabaseURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// rabbitAPI is the management API (TEST_RABBITMQ_API).
func rabbitAPI() string { return env("TEST_RABBITMQ_API", "http://guest:guest@localhost:15672/api") }

// AMQPBaseURL is the broker, without a virtual host (TEST_AMQP_URL).
func AMQPBaseURL() string { return env("TEST_AMQP_URL", "amqp://guest:guest@localhost:5672/") }

// manage calls the management API, and decodes its JSON answer into out
// unless out is nil.
func manage(ctx context.Context, method, path, body string, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, rabbitAPI()+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("RabbitMQ management API %s %s: %s %s", method, path, resp.Status, b)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return fmt.Errorf("RabbitMQ management API %s %s: %w", method, path, err)
		}
	}
	return nil
}

// BrokerURL creates a RabbitMQ virtual host for this test, deleted when the
// test ends, and returns its AMQP URL.
func BrokerURL(t testing.TB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	vhost := unique("trend-test-")
	if err := manage(ctx, http.MethodPut, "/vhosts/"+vhost, "", nil); err != nil {
		t.Fatal(hint(err))
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := manage(ctx, http.MethodDelete, "/vhosts/"+vhost, "", nil); err != nil {
			t.Errorf("delete vhost: %v", err)
		}
	})
	u, _ := url.Parse(AMQPBaseURL())
	user := u.User.Username()
	if err := manage(ctx, http.MethodPut, "/permissions/"+vhost+"/"+user, `{"configure":".*","write":".*","read":".*"}`, nil); err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + vhost
	return u.String()
}

// QueueDepth returns the number of ready messages in a queue of the
// broker at amqpURL (read from the broker itself: the management API's
// figures lag by seconds).
func QueueDepth(amqpURL, queue string) (int, error) {
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		return 0, err
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		return 0, err
	}
	defer ch.Close()
	q, err := ch.QueueDeclarePassive(queue, true, false, false, false, nil)
	return q.Messages, err
}

// Connections returns the connection names (the clients' connection_name)
// of the connections to amqpURL's virtual host, as the management API
// lists them (it may lag a connection's opening or end by a few seconds).
func Connections(t testing.TB, amqpURL string) []string {
	t.Helper()
	u, err := url.Parse(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	var conns []struct {
		Client struct {
			Name string `json:"connection_name"`
		} `json:"client_properties"`
	}
	if err := manage(t.Context(), http.MethodGet, "/vhosts/"+url.PathEscape(strings.TrimPrefix(u.Path, "/"))+"/connections", "", &conns); err != nil {
		t.Fatal(err)
	}
	names := make([]string, len(conns))
	for i, c := range conns {
		names[i] = c.Client.Name
	}
	return names
}

// Channel opens a channel on its own connection to the broker at amqpURL,
// closed when the test ends.
func Channel(t testing.TB, amqpURL string) *amqp.Channel {
	t.Helper()
	conn, err := amqp.Dial(amqpURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	ch, err := conn.Channel()
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// Drain takes every message of queue on the broker at amqpURL,
// acknowledging them.
func Drain(t testing.TB, amqpURL, queue string) []amqp.Delivery {
	t.Helper()
	ch := Channel(t, amqpURL)
	var out []amqp.Delivery
	for {
		d, ok, err := ch.Get(queue, true)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		out = append(out, d)
	}
}

// Publish publishes msgs to exchange on the broker at amqpURL and waits for
// the broker to confirm each: what a test needs to put a message exactly
// where the relay would.
func Publish(t testing.TB, amqpURL, exchange string, msgs ...amqp.Publishing) {
	t.Helper()
	ch := Channel(t, amqpURL)
	if err := ch.Confirm(false); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, m := range msgs {
		conf, err := ch.PublishWithDeferredConfirmWithContext(ctx, exchange, "", false, false, m)
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := conf.WaitContext(ctx); !ok || err != nil {
			t.Fatalf("publish to %s: got ack %v, error %v; want a confirm", exchange, ok, err)
		}
	}
}

// SilentServer returns the address of a TCP server that accepts
// connections and never says a word (a frozen broker, something else on
// its port), for tests of what a client does then. Closed with t.
func SilentServer(t testing.TB) string {
	t.Helper()
	return serveTCP(t, func(net.Conn, func(net.Conn)) {})
}

// SilentPool returns a pool on a SilentServer: a PostgreSQL that accepts
// connections and never answers (a paused container, a partition).
func SilentPool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	pool, err := pgxpool.New(context.Background(), "postgres://trend:trend@"+SilentServer(t)+"/trend?sslmode=disable")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// Rounds counts a loop's heartbeats: pass Beat as its round callback.
type Rounds chan struct{}

// NewRounds returns an empty Rounds.
func NewRounds() Rounds { return make(Rounds, 100) }

// Beat records a round; it never blocks.
func (r Rounds) Beat() {
	select {
	case r <- struct{}{}:
	default:
	}
}

// Wait fails t unless n rounds come, each within 10 s of the last.
func (r Rounds) Wait(t testing.TB, n int, what string) {
	t.Helper()
	for i := range n {
		select {
		case <-r:
		case <-time.After(10 * time.Second):
			t.Fatalf("round %d did not come within 10 s: %s", i+1, what)
		}
	}
}

// Proxy returns the address of a TCP proxy to upstream: each connection
// it accepts is dialled through to upstream, and relay moves the bytes
// between the two as the test wants (all of them; until a cut; until a
// stall). Every connection is closed with t.
func Proxy(t testing.TB, upstream string, relay func(client, server net.Conn)) string {
	t.Helper()
	return serveTCP(t, func(c net.Conn, keep func(net.Conn)) {
		up, err := net.Dial("tcp", upstream)
		if err != nil {
			c.Close()
			return
		}
		keep(up)
		relay(c, up)
	})
}

// serveTCP accepts connections on a port of its own and hands each to
// handle, in a goroutine, with keep, which has a connection of handle's
// closed with t too.
func serveTCP(t testing.TB, handle func(c net.Conn, keep func(net.Conn))) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	keep := func(c net.Conn) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, c)
	}
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			keep(conn)
			go handle(conn, keep)
		}
	}()
	return ln.Addr().String()
}

// WaitFor polls cond until it holds, failing t with what after timeout.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// EndsWithin runs fn and returns its error, or fails t with what, if fn
// has not returned within d (a call that should have given up).
func EndsWithin(t testing.TB, d time.Duration, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(d):
		t.Fatalf("%s still waits after %s", what, d)
		return nil
	}
}

// Refused returns raw (a server's URL) with a wrong password, and raw
// naming path (a database, a virtual host) instead of its own: two
// URLs the server refuses, for tests of what a refusal says.
func Refused(t testing.TB, raw, path string) (wrongPassword, wrongPath string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	p, q := *u, *u
	p.User = url.UserPassword(u.User.Username(), "not-the-password")
	q.Path = path
	return p.String(), q.String()
}

// UnusedAddr returns a local address nothing listens on (one that did a
// moment ago): a server that is down.
func UnusedAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
