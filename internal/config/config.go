// Package config reads the service configuration from the environment (and
// a .env file when present), including the variables of the Python system
// this service replaces, so that an old .env keeps working.
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/caarlos0/env/v11"
	"github.com/joho/godotenv"
)

// DefaultTMDBBaseURL is the real TMDB v3 API.
const DefaultTMDBBaseURL = "https://api.themoviedb.org/3"

// Config is the whole configuration of every role.
type Config struct {
	DatabaseURL   string `env:"DATABASE_URL"`
	AMQPURL       string `env:"AMQP_URL"`
	HTTPAddr      string `env:"HTTP_ADDR"`
	TMDBAPIKey    string `env:"TMDB_API_KEY"`
	TMDBReadToken string `env:"TMDB_READ_TOKEN"`
	TMDBBaseURL   string `env:"TMDB_BASE_URL"`
	AdminToken    string `env:"ADMIN_TOKEN"`
	LogLevel      string `env:"LOG_LEVEL" envDefault:"info"`

	// The time-decayed trend score (see the README).
	TrendHalfLife     time.Duration `env:"TREND_HALF_LIFE" envDefault:"24h"`
	TrendWeekHalfLife time.Duration `env:"TREND_WEEK_HALF_LIFE" envDefault:"168h"`
	TrendMinVotes     float64       `env:"TREND_MIN_VOTES" envDefault:"500"`
	// RateLimit is how many write requests per second one client may send
	// (0: no limit, the default, for benchmarks); RateBurst its burst.
	RateLimit float64 `env:"RATE_LIMIT" envDefault:"0"`
	RateBurst int     `env:"RATE_BURST" envDefault:"0"`
	// CORSAllowedOrigins lists the origins browsers may call the API from
	// (comma-separated); empty means same origin only.
	CORSAllowedOrigins []string `env:"CORS_ALLOWED_ORIGINS" envSeparator:","`

	// WorkerConsumers is how many messages of each hot queue (RecordViews,
	// the trend projection) a worker takes at once; they share one
	// transaction. It also caps the projection's batches per transaction:
	// 32 lets a PROJECTION_INTERVAL of 400 ms fill (docs/benchmarks.md).
	WorkerConsumers int `env:"WORKER_CONSUMERS" envDefault:"32"`
	// IntakeInterval is the longest the next commit of the API's views
	// waits for more while views keep coming (the first after a quiet
	// spell starts at once, and so does one for which as many views wait
	// as the previous commit carried): the views gather meanwhile, so
	// each RecordViews message carries more of them.
	IntakeInterval time.Duration `env:"INTAKE_INTERVAL" envDefault:"2.5ms"`
	// FastLane lets the API read simple POST /api/movies/view and GET
	// /api/movies requests itself instead of through net/http's
	// per-request machinery (internal/fastlane); the same handler answers
	// them. Off, net/http serves every request.
	FastLane bool `env:"API_FAST_LANE" envDefault:"true"`
	// StreamMaxClients bounds the API's live streams (GET /api/stream)
	// open at once; more are refused (503 with Retry-After) until one
	// ends. Each holds a connection, a goroutine and, while its client
	// lags, up to about 2 MB of changes it has not taken yet.
	StreamMaxClients int `env:"STREAM_MAX_CLIENTS" envDefault:"1000"`

	// ProjectionInterval is the least time between two transactions of
	// the trend projection while batches keep coming (the first after a
	// quiet spell starts at once): batches gather meanwhile, and a movie
	// viewed in many of them is written once. Each transaction rewrites
	// every movie viewed since the last, so under load its cost is per
	// second, not per view: 400 ms (with 32 consumers) against 200 ms
	// (with 16) measured about a tenth less CPU per view, for a freshness
	// p99 still well under a second (docs/benchmarks.md).
	ProjectionInterval time.Duration `env:"PROJECTION_INTERVAL" envDefault:"400ms"`

	// OutboxRetention is how long the relay keeps outbox rows it has
	// forwarded (for inspection) before deleting them; 0 keeps them all.
	OutboxRetention time.Duration `env:"OUTBOX_RETENTION" envDefault:"1h"`

	// PprofAddr, when set (e.g. 127.0.0.1:6060), serves Go's profiler
	// (net/http/pprof) there, apart from the API.
	PprofAddr string `env:"PPROF_ADDR"`

	// HealthAddr, when set (e.g. 127.0.0.1:8081), serves GET /healthz there
	// in the relay, worker and all roles: 200 while their loops go round,
	// 503 naming the stale one (internal/liveness). The API has its own
	// /healthz on HTTP_ADDR.
	HealthAddr string `env:"HEALTH_ADDR"`

	// HealthExitAfter, when above 0, ends the relay, worker and all roles
	// (exit status 1) once a loop of theirs has been stale that long, for
	// a supervisor that restarts a process that exits but not one that is
	// unhealthy (Docker Compose's restart policy). 0: never.
	HealthExitAfter time.Duration `env:"HEALTH_EXIT_AFTER" envDefault:"0"`

	// TMDBRefreshAge is how old TMDB facts may get before the refresher
	// fetches them again; 0 turns that off (pending movies are still
	// asked for again).
	TMDBRefreshAge time.Duration `env:"TMDB_REFRESH_AGE" envDefault:"24h"`

	// TMDBRateLimit is the most TMDB requests a second one worker sends
	// (TMDB allows about 50 from one key). Each worker process has its
	// own: with N workers, give each a share.
	TMDBRateLimit float64 `env:"TMDB_RATE_LIMIT" envDefault:"40"`

	// RabbitMQManagementURL is the management UI the dashboard links to.
	// Empty: http://<AMQP_URL's host>:15672, which a browser cannot reach
	// where that host is a name of a private network (compose's rabbitmq).
	RabbitMQManagementURL string `env:"RABBITMQ_MANAGEMENT_URL"`

	// builtDB and builtMQ: DATABASE_URL and AMQP_URL were unset and built
	// from the Python system's variables, which a bad one names.
	builtDB, builtMQ bool

	// Variables of the Python system, used only where the new ones are unset.
	Legacy struct {
		PostgresUser     string `env:"POSTGRES_USER"`
		PostgresPassword string `env:"POSTGRES_PASSWORD"`
		PostgresDB       string `env:"POSTGRES_DB"`
		DBHost           string `env:"DB_HOST"`
		RabbitUser       string `env:"RABBITMQ_DEFAULT_USER"`
		RabbitPass       string `env:"RABBITMQ_DEFAULT_PASS"`
		MQHost           string `env:"MQ_HOST"`
		FastAPIPort      string `env:"FASTAPI_PORT"`
	}
}

// Load reads .env (if present, without overriding the real environment)
// and then the environment.
func Load() (Config, error) {
	if err := godotenv.Load(); err != nil && !errors.Is(err, os.ErrNotExist) {
		if _, ok := errors.AsType[*fs.PathError](err); ok {
			return Config{}, fmt.Errorf("read .env: %w", err) // cannot open or read it
		}
		// Not the parser's message: it quotes the rest of the file, and
		// with it the passwords and keys that follow the mistake.
		return Config{}, errors.New("read .env: a line is not NAME=value (names are letters, digits, _ and .; a quoted value must end with its quote)")
	}
	return FromEnv(os.Environ())
}

// FromEnv builds a Config from a list of KEY=value pairs.
func FromEnv(environ []string) (Config, error) {
	vars := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	var c Config
	var problems []error
	// named: the variables whose values could not be read. Validate's
	// complaints about them (their zero values) would repeat the problem.
	named := map[string]bool{}
	if err := env.ParseWithOptions(&c, env.Options{Environment: vars}); err != nil {
		agg, ok := errors.AsType[env.AggregateError](err)
		if !ok {
			return Config{}, fmt.Errorf("parse environment: %w", err)
		}
		keys := envKeys(reflect.TypeFor[Config]())
		for _, e := range agg.Errors {
			pe, ok := e.(env.ParseError)
			if !ok {
				problems = append(problems, e)
				continue
			}
			// The library names the Go field; the operator set a variable.
			key := cmp.Or(keys[pe.Name], pe.Name)
			named[key] = true
			problems = append(problems, fmt.Errorf("%s: %q is not %s", key, vars[key], kindOf(pe.Type)))
		}
	}
	c.applyLegacy()
	c.CORSAllowedOrigins = normalOrigins(c.CORSAllowedOrigins)
	if err := c.Validate(); err != nil {
		for _, e := range unjoin(err) {
			if !mentionsAny(e.Error(), named) {
				problems = append(problems, e)
			}
		}
	}
	return c, errors.Join(problems...)
}

// normalOrigins writes each origin as origin does, spaces around it
// trimmed; entries left empty are dropped, and one that is no origin is
// left as it is, for Validate to name.
func normalOrigins(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if n, ok := origin(o); ok {
			o = n
		}
		out = append(out, o)
	}
	return out
}

// origin returns o as browsers send an origin in the Origin header, which
// the API compares byte for byte (scheme and host in lower case, the
// scheme's default port and a final "/" left out), and whether o is one:
// http or https, a host, and no user, path, query or fragment.
func origin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil ||
		strings.ContainsAny(o, "?#") || (u.Path != "" && u.Path != "/") {
		return o, false
	}
	host := strings.ToLower(u.Host)
	if (u.Scheme == "https" && strings.HasSuffix(host, ":443")) || (u.Scheme == "http" && strings.HasSuffix(host, ":80")) {
		host = host[:strings.LastIndexByte(host, ':')]
	}
	return u.Scheme + "://" + host, true
}

// envKeys maps the fields of t (and of its nested structs) to their
// variables' names.
func envKeys(t reflect.Type) map[string]string {
	keys := map[string]string{}
	for f := range t.Fields() {
		if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" {
			keys[f.Name] = key
		} else if f.Type.Kind() == reflect.Struct {
			maps.Copy(keys, envKeys(f.Type))
		}
	}
	return keys
}

// kindOf says what a variable of type t must hold.
func kindOf(t reflect.Type) string {
	switch {
	case t == reflect.TypeFor[time.Duration]():
		return "a duration (such as 400ms, 30s or 1h)"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "a whole number"
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		return "a number"
	}
	return "a " + t.String()
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// mentionsAny tells whether s names one of keys as a whole word:
// RATE_LIMIT is not named by TMDB_RATE_LIMIT.
func mentionsAny(s string, keys map[string]bool) bool {
	words := strings.FieldsFunc(s, func(r rune) bool { return !(r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)) })
	for _, w := range words {
		if keys[w] {
			return true
		}
	}
	return false
}

func (c *Config) applyLegacy() {
	l := c.Legacy
	if c.DatabaseURL == "" {
		u := url.URL{Scheme: "postgres", Host: "localhost:5432", Path: "/trend", RawQuery: "sslmode=disable"}
		// Each with the default the compose file gives it, so that either
		// alone works as it does there.
		u.User = url.UserPassword(cmp.Or(l.PostgresUser, "trend"), cmp.Or(l.PostgresPassword, "trend"))
		if l.DBHost != "" {
			u.Host = withPort(l.DBHost, "5432")
		}
		if l.PostgresDB != "" {
			u.Path = "/" + l.PostgresDB
		}
		c.DatabaseURL = u.String()
		c.builtDB = true
	}
	if c.AMQPURL == "" {
		u := url.URL{Scheme: "amqp", Host: "localhost:5672", Path: "/", User: url.UserPassword("guest", "guest")}
		u.User = url.UserPassword(cmp.Or(l.RabbitUser, "guest"), cmp.Or(l.RabbitPass, "guest"))
		if l.MQHost != "" {
			u.Host = withPort(l.MQHost, "5672")
		}
		c.AMQPURL = u.String()
		c.builtMQ = true
	}
	if c.HTTPAddr == "" {
		c.HTTPAddr = ":8000"
		if l.FastAPIPort != "" {
			c.HTTPAddr = ":" + l.FastAPIPort
		}
	}
	if c.TMDBBaseURL == "" {
		c.TMDBBaseURL = DefaultTMDBBaseURL
	}
	if c.RabbitMQManagementURL == "" {
		c.RabbitMQManagementURL = managementURL(c.AMQPURL)
	}
}

// validListenAddr tells whether addr is host:port with a port number (a
// service name like "http" would be looked up, and listen elsewhere than
// meant).
func validListenAddr(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	n, err := strconv.ParseUint(port, 10, 16)
	return err == nil && (n > 0 || port == "0")
}

// withPort is host with port, unless it names a port of its own; an IPv6
// address gets its brackets.
func withPort(host, port string) string {
	if _, _, err := net.SplitHostPort(host); err == nil {
		return host
	}
	return net.JoinHostPort(strings.Trim(host, "[]"), port)
}

// managementURL guesses RabbitMQ's management UI from the broker's host.
func managementURL(amqpURL string) string {
	u, err := url.Parse(amqpURL)
	if err != nil || u.Hostname() == "" {
		return "http://localhost:15672"
	}
	return "http://" + net.JoinHostPort(u.Hostname(), "15672")
}

// Validate reports every problem at once, each on its own line.
func (c Config) Validate() error {
	var errs []error
	if u, err := url.Parse(c.DatabaseURL); err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		if c.builtDB {
			errs = append(errs, fmt.Errorf("DB_HOST %q does not make a postgres:// URL (DATABASE_URL is unset, so it is built from DB_HOST and POSTGRES_*): want a host, or host:port", c.Legacy.DBHost))
		} else {
			errs = append(errs, fmt.Errorf("DATABASE_URL must be a postgres:// URL"))
		}
	}
	if u, err := url.Parse(c.AMQPURL); err != nil || (u.Scheme != "amqp" && u.Scheme != "amqps") {
		if c.builtMQ {
			errs = append(errs, fmt.Errorf("MQ_HOST %q does not make an amqp:// URL (AMQP_URL is unset, so it is built from MQ_HOST and RABBITMQ_DEFAULT_*): want a host, or host:port", c.Legacy.MQHost))
		} else {
			errs = append(errs, fmt.Errorf("AMQP_URL must be an amqp:// URL"))
		}
	}
	if u, err := url.Parse(c.TMDBBaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("TMDB_BASE_URL must be an http(s) URL"))
	}
	if c.TrendHalfLife < time.Minute || c.TrendWeekHalfLife < time.Minute {
		errs = append(errs, fmt.Errorf("TREND_HALF_LIFE and TREND_WEEK_HALF_LIFE must be at least 1m"))
	}
	// strconv.ParseFloat accepts NaN and Inf, which every comparison below
	// would let through (NaN < 0 is false): refuse them first.
	if !finite(c.TrendMinVotes) {
		errs = append(errs, fmt.Errorf("TREND_MIN_VOTES must be a finite number"))
	} else if c.TrendMinVotes < 0 {
		errs = append(errs, fmt.Errorf("TREND_MIN_VOTES must not be negative"))
	}
	if !finite(c.RateLimit) {
		errs = append(errs, fmt.Errorf("RATE_LIMIT must be a finite number"))
	}
	if (finite(c.RateLimit) && c.RateLimit < 0) || c.RateBurst < 0 {
		errs = append(errs, fmt.Errorf("RATE_LIMIT and RATE_BURST must not be negative"))
	}
	if u, err := url.Parse(c.RabbitMQManagementURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("RABBITMQ_MANAGEMENT_URL must be an http(s) URL"))
	}
	if c.WorkerConsumers < 1 || c.WorkerConsumers > 1000 {
		errs = append(errs, fmt.Errorf("WORKER_CONSUMERS must be from 1 to 1000"))
	}
	// 0 does not mean "no limit": an unbounded number of streams is what
	// the limit is for.
	if c.StreamMaxClients < 1 {
		errs = append(errs, fmt.Errorf("STREAM_MAX_CLIENTS must be at least 1"))
	}
	if c.IntakeInterval < 0 || c.IntakeInterval > time.Second {
		errs = append(errs, fmt.Errorf("INTAKE_INTERVAL must be from 0 to 1s"))
	}
	if c.ProjectionInterval < 0 || c.ProjectionInterval > 10*time.Second {
		errs = append(errs, fmt.Errorf("PROJECTION_INTERVAL must be from 0 to 10s"))
	}
	for _, o := range c.CORSAllowedOrigins {
		// As browsers send it, which FromEnv writes: the API compares it
		// byte for byte.
		if n, ok := origin(o); !ok || n != o {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS: %q is not an origin like https://example.com", o))
		}
	}
	if c.TMDBRefreshAge < 0 {
		errs = append(errs, fmt.Errorf("TMDB_REFRESH_AGE must not be negative"))
	}
	if !finite(c.TMDBRateLimit) || c.TMDBRateLimit <= 0 {
		errs = append(errs, fmt.Errorf("TMDB_RATE_LIMIT must be a number above 0 (requests a second)"))
	}
	for _, a := range []struct{ name, value, example string }{
		{"HTTP_ADDR (or FASTAPI_PORT)", c.HTTPAddr, ":8000"},
		{"HEALTH_ADDR", c.HealthAddr, "127.0.0.1:8081"},
		{"PPROF_ADDR", c.PprofAddr, "127.0.0.1:6060"},
	} {
		if a.value != "" && !validListenAddr(a.value) {
			errs = append(errs, fmt.Errorf("%s must be host:port with a port number, like %s, not %q", a.name, a.example, a.value))
		}
	}
	if c.OutboxRetention < 0 {
		errs = append(errs, fmt.Errorf("OUTBOX_RETENTION must not be negative"))
	}
	if c.HealthExitAfter < 0 {
		errs = append(errs, fmt.Errorf("HEALTH_EXIT_AFTER must not be negative"))
	}
	if _, err := c.SlogLevel(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// SlogLevel parses LOG_LEVEL.
func (c Config) SlogLevel() (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return 0, fmt.Errorf("LOG_LEVEL must be debug, info, warn or error, not %q", c.LogLevel)
	}
	return l, nil
}

// HasTMDBCredentials tells whether a real TMDB key or token is configured.
func (c Config) HasTMDBCredentials() bool {
	return c.TMDBAPIKey != "" || c.TMDBReadToken != ""
}

// Redacted returns a URL with its password replaced, for logs and errors.
func Redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	return u.Redacted()
}
