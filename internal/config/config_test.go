package config

import (
	"os"
	"slices"
	"strings"
	"testing"
)

func TestDefaults(t *testing.T) {
	c, err := FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	checks := map[string][2]string{
		"DatabaseURL": {c.DatabaseURL, "postgres://trend:trend@localhost:5432/trend?sslmode=disable"},
		"AMQPURL":     {c.AMQPURL, "amqp://guest:guest@localhost:5672/"},
		"HTTPAddr":    {c.HTTPAddr, ":8000"},
		"TMDBBaseURL": {c.TMDBBaseURL, DefaultTMDBBaseURL},
		"LogLevel":    {c.LogLevel, "info"},
	}
	for name, gw := range checks {
		if gw[0] != gw[1] {
			t.Errorf("%s: got %q, want %q", name, gw[0], gw[1])
		}
	}
	if !c.FastLane {
		t.Error("FastLane: got false, want true")
	}
	if c, err := FromEnv([]string{"API_FAST_LANE=false"}); err != nil || c.FastLane {
		t.Errorf("API_FAST_LANE=false: FastLane %v, error %v", c.FastLane, err)
	}
	// Empty, as docker compose passes a variable .env leaves unset.
	if c, err := FromEnv([]string{"TMDB_RATE_LIMIT="}); err != nil || c.TMDBRateLimit != 40 {
		t.Errorf("TMDB_RATE_LIMIT empty: got %v, error %v, want the default 40", c.TMDBRateLimit, err)
	}
	if c, err := FromEnv([]string{"TMDB_RATE_LIMIT=12.5"}); err != nil || c.TMDBRateLimit != 12.5 {
		t.Errorf("TMDB_RATE_LIMIT=12.5: got %v, error %v", c.TMDBRateLimit, err)
	}
	if _, err := FromEnv([]string{"TMDB_RATE_LIMIT=0"}); err == nil || !strings.Contains(err.Error(), "TMDB_RATE_LIMIT") {
		t.Errorf("TMDB_RATE_LIMIT=0: got error %v, want one naming it (no request would ever go out)", err)
	}
}

func TestLegacyVariables(t *testing.T) {
	c, err := FromEnv([]string{
		"POSTGRES_USER=postgres_user", "POSTGRES_PASSWORD=strong_password", "POSTGRES_DB=trend_db", "DB_HOST=postgres_db",
		"RABBITMQ_DEFAULT_USER=rabbit_user", "RABBITMQ_DEFAULT_PASS=rabbit_password", "MQ_HOST=rabbitmq_mq",
		"FASTAPI_PORT=8080", "TMDB_API_KEY=k",
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := "postgres://postgres_user:strong_password@postgres_db:5432/trend_db?sslmode=disable"; c.DatabaseURL != want {
		t.Errorf("DatabaseURL: got %q, want %q", c.DatabaseURL, want)
	}
	if want := "amqp://rabbit_user:rabbit_password@rabbitmq_mq:5672/"; c.AMQPURL != want {
		t.Errorf("AMQPURL: got %q, want %q", c.AMQPURL, want)
	}
	if c.HTTPAddr != ":8080" {
		t.Errorf("HTTPAddr: got %q, want :8080", c.HTTPAddr)
	}
	if !c.HasTMDBCredentials() {
		t.Error("HasTMDBCredentials: got false, want true")
	}
}

// Each legacy variable works alone, with the default the compose file
// gives the others, and a host may name its port.
func TestLegacyVariablesAlone(t *testing.T) {
	for _, c := range []struct {
		env        []string
		db, broker string
	}{
		{[]string{"POSTGRES_PASSWORD=s3cret"}, "postgres://trend:s3cret@localhost:5432/trend?sslmode=disable", "amqp://guest:guest@localhost:5672/"},
		{[]string{"POSTGRES_USER=app"}, "postgres://app:trend@localhost:5432/trend?sslmode=disable", "amqp://guest:guest@localhost:5672/"},
		{[]string{"RABBITMQ_DEFAULT_PASS=r4bbit"}, "postgres://trend:trend@localhost:5432/trend?sslmode=disable", "amqp://guest:r4bbit@localhost:5672/"},
		{[]string{"DB_HOST=db:5433", "MQ_HOST=mq:5673"}, "postgres://trend:trend@db:5433/trend?sslmode=disable", "amqp://guest:guest@mq:5673/"},
		{[]string{"DB_HOST=::1", "MQ_HOST=[::1]"}, "postgres://trend:trend@[::1]:5432/trend?sslmode=disable", "amqp://guest:guest@[::1]:5672/"},
	} {
		cfg, err := FromEnv(c.env)
		if err != nil {
			t.Errorf("%v: %v", c.env, err)
			continue
		}
		if cfg.DatabaseURL != c.db || cfg.AMQPURL != c.broker {
			t.Errorf("%v: got %q and %q, want %q and %q", c.env, cfg.DatabaseURL, cfg.AMQPURL, c.db, c.broker)
		}
	}
}

// A .env the parser refuses is reported without its content: the
// parser's own message quotes the rest of the file, secrets included.
func TestABadDotEnvIsReportedWithoutItsSecrets(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := os.WriteFile(".env", []byte("DB-HOST=postgres_db\nPOSTGRES_PASSWORD=strong_password\nTMDB_API_KEY=\"abc123SECRET\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load()
	if err == nil {
		t.Fatal("a malformed .env was accepted")
	}
	for _, secret := range []string{"strong_password", "abc123SECRET"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("the error %q quotes %q", err, secret)
		}
	}
}

// A listen address is checked at start: a port that is not a number
// failed only when the server started listening (after the migrations),
// and a service name ("http") would have been looked up.
func TestListenAddressesAreChecked(t *testing.T) {
	for env, ok := range map[string]bool{
		"FASTAPI_PORT=abc": false, "FASTAPI_PORT=http": false, "HTTP_ADDR=localhost:99999": false,
		"HEALTH_ADDR=localhost:abc": false, "PPROF_ADDR=6060": false, "HEALTH_EXIT_AFTER=-1s": false, "HEALTH_EXIT_AFTER=90s": true,
		"FASTAPI_PORT=8080": true, "HTTP_ADDR=127.0.0.1:0": true, "HEALTH_ADDR=[::1]:8081": true,
	} {
		if _, err := FromEnv([]string{env}); (err == nil) != ok {
			t.Errorf("%s: got %v, want accepted %v", env, err, ok)
		}
	}
}

func TestNewVariablesWinOverLegacy(t *testing.T) {
	c, err := FromEnv([]string{"DATABASE_URL=postgres://a:b@h/d", "POSTGRES_USER=x", "HTTP_ADDR=:9000", "FASTAPI_PORT=1"})
	if err != nil {
		t.Fatal(err)
	}
	if c.DatabaseURL != "postgres://a:b@h/d" || c.HTTPAddr != ":9000" {
		t.Errorf("got %q %q, want the new variables", c.DatabaseURL, c.HTTPAddr)
	}
}

func TestValidateJoinsEveryProblem(t *testing.T) {
	_, err := FromEnv([]string{"DATABASE_URL=mysql://x", "AMQP_URL=http://x", "LOG_LEVEL=loud", "PROJECTION_INTERVAL=-1s", "INTAKE_INTERVAL=2s"})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	for _, want := range []string{"DATABASE_URL", "AMQP_URL", "LOG_LEVEL", "PROJECTION_INTERVAL", "INTAKE_INTERVAL"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRedacted(t *testing.T) {
	if got := Redacted("postgres://u:secret@h/d"); strings.Contains(got, "secret") {
		t.Errorf("got %q, want the password hidden", got)
	}
}

// A float setting that is not a finite number is refused: NaN passes every
// comparison (TREND_MIN_VOTES=NaN gave NaN scores that JSON cannot encode,
// RATE_LIMIT=NaN or Inf switched the limit off), so it is checked apart.
func TestNonFiniteFloatsAreRefused(t *testing.T) {
	for _, name := range []string{"TREND_MIN_VOTES", "RATE_LIMIT", "TMDB_RATE_LIMIT"} {
		for _, v := range []string{"NaN", "nan", "Inf", "+Inf", "-Inf", "infinity"} {
			_, err := FromEnv([]string{name + "=" + v})
			if err == nil || !strings.Contains(err.Error(), name) {
				t.Errorf("%s=%s: got error %v, want one naming %s", name, v, err, name)
			}
		}
	}
	// One line per problem, as for the other settings.
	_, err := FromEnv([]string{"TREND_MIN_VOTES=NaN", "RATE_LIMIT=Inf"})
	if err == nil {
		t.Fatal("TREND_MIN_VOTES=NaN RATE_LIMIT=Inf: got no error, want two")
	}
	if lines := strings.Split(err.Error(), "\n"); len(lines) != 2 {
		t.Errorf("TREND_MIN_VOTES=NaN RATE_LIMIT=Inf: got %q, want one line per problem (2)", lines)
	}
	if c, err := FromEnv([]string{"TREND_MIN_VOTES=12.5", "RATE_LIMIT=0.5"}); err != nil || c.TrendMinVotes != 12.5 || c.RateLimit != 0.5 {
		t.Errorf("finite values: got %v %v, error %v, want them accepted", c.TrendMinVotes, c.RateLimit, err)
	}
}

// The dashboard links to RabbitMQ's management UI. By default the link is
// guessed from the broker's host; RABBITMQ_MANAGEMENT_URL sets it where the
// broker's host is no address a browser can reach (compose's "rabbitmq").
func TestRabbitMQManagementURL(t *testing.T) {
	cases := []struct {
		env  []string
		want string
	}{
		{nil, "http://localhost:15672"},
		{[]string{"AMQP_URL=amqp://u:p@broker.internal:5672/"}, "http://broker.internal:15672"},
		{[]string{"AMQP_URL=amqp://u:p@[::1]:5672/"}, "http://[::1]:15672"},
		{[]string{"MQ_HOST=rabbitmq"}, "http://rabbitmq:15672"},
		{[]string{"MQ_HOST=rabbitmq", "RABBITMQ_MANAGEMENT_URL=http://localhost:15672"}, "http://localhost:15672"},
		{[]string{"RABBITMQ_MANAGEMENT_URL=https://mq.example.com/ui/"}, "https://mq.example.com/ui/"},
		{[]string{"RABBITMQ_MANAGEMENT_URL="}, "http://localhost:15672"},
	}
	for _, tc := range cases {
		c, err := FromEnv(tc.env)
		if err != nil {
			t.Errorf("%q: %v", tc.env, err)
			continue
		}
		if c.RabbitMQManagementURL != tc.want {
			t.Errorf("%q: got RabbitMQManagementURL %q, want %q", tc.env, c.RabbitMQManagementURL, tc.want)
		}
	}
	for _, bad := range []string{"localhost:15672", "ftp://x", "http://", "javascript:alert(1)"} {
		if _, err := FromEnv([]string{"RABBITMQ_MANAGEMENT_URL=" + bad}); err == nil || !strings.Contains(err.Error(), "RABBITMQ_MANAGEMENT_URL") {
			t.Errorf("RABBITMQ_MANAGEMENT_URL=%s: got error %v, want one naming it", bad, err)
		}
	}
}

// A value that cannot be read is reported under its variable's name, one
// line each, beside the other problems: the library named the Go field
// ("FastLane"), all on one line, and the other checks did not run.
func TestUnreadableValuesAreNamedByTheirVariables(t *testing.T) {
	_, err := FromEnv([]string{"WORKER_CONSUMERS=32x", "API_FAST_LANE=yes", "PROJECTION_INTERVAL=400", "TREND_MIN_VOTES=many", "DATABASE_URL=mysql://x"})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	lines := strings.Split(err.Error(), "\n")
	for _, want := range []string{
		`WORKER_CONSUMERS: "32x" is not a whole number`,
		`API_FAST_LANE: "yes" is not true or false`,
		`PROJECTION_INTERVAL: "400" is not a duration`,
		`TREND_MIN_VOTES: "many" is not a number`,
		"DATABASE_URL must be a postgres:// URL",
	} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, want) }) {
			t.Errorf("no line %q in:\n%s", want, err)
		}
	}
	for _, field := range []string{"WorkerConsumers", "FastLane", "ProjectionInterval", "TrendMinVotes"} {
		if strings.Contains(err.Error(), field) {
			t.Errorf("the error names the Go field %s:\n%s", field, err)
		}
	}
	// Once each: not again as out of range (the zero value it was left at).
	for _, key := range []string{"WORKER_CONSUMERS", "PROJECTION_INTERVAL", "TREND_MIN_VOTES"} {
		if n := strings.Count(err.Error(), key); n != 1 {
			t.Errorf("%s named %d times, want once:\n%s", key, n, err)
		}
	}
	if len(lines) != 5 {
		t.Errorf("%d lines, want 5 (one a problem):\n%s", len(lines), err)
	}
}

// A problem Validate finds is left out only when it names an unreadable
// variable as a whole word: RATE_LIMIT unreadable does not hide
// TMDB_RATE_LIMIT's problem.
func TestAnUnreadableVariableHidesOnlyItsOwnProblems(t *testing.T) {
	_, err := FromEnv([]string{"RATE_LIMIT=abc", "TMDB_RATE_LIMIT=0"})
	if err == nil {
		t.Fatal("got nil error, want one")
	}
	for _, want := range []string{`RATE_LIMIT: "abc" is not a number`, "TMDB_RATE_LIMIT must be a number above 0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// Origins are written as browsers send them (the API compares the Origin
// header byte for byte): an origin with capitals, its default port, a final
// "/" or spaces after the commas matched no request; one with a user, a
// query or a path is refused.
func TestCORSOriginsAreWrittenAsBrowsersSendThem(t *testing.T) {
	c, err := FromEnv([]string{"CORS_ALLOWED_ORIGINS=https://Board.Example.com:443/, http://a.test:80 ,, https://b.test:8443,http://[::1]:80"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"https://board.example.com", "http://a.test", "https://b.test:8443", "http://[::1]"}
	if !slices.Equal(c.CORSAllowedOrigins, want) {
		t.Errorf("got %q, want %q", c.CORSAllowedOrigins, want)
	}
	for _, bad := range []string{"https://u@example.com", "https://example.com?x", "https://example.com?", "https://example.com#top", "https://example.com/app", "example.com"} {
		if _, err := FromEnv([]string{"CORS_ALLOWED_ORIGINS=" + bad}); err == nil || !strings.Contains(err.Error(), "CORS_ALLOWED_ORIGINS") {
			t.Errorf("%s: got %v, want it refused", bad, err)
		}
	}
}

// A URL built from the Python system's variables that does not parse is
// blamed on the variable the operator set, not on DATABASE_URL or
// AMQP_URL, which they never did.
func TestABadLegacyHostIsNamed(t *testing.T) {
	_, err := FromEnv([]string{"DB_HOST=db:abc", "MQ_HOST=mq:abc"})
	if err == nil || !strings.Contains(err.Error(), `DB_HOST "db:abc"`) || !strings.Contains(err.Error(), `MQ_HOST "mq:abc"`) ||
		strings.Contains(err.Error(), "DATABASE_URL must") || strings.Contains(err.Error(), "AMQP_URL must") {
		t.Errorf("got %v, want DB_HOST and MQ_HOST named", err)
	}
	if _, err := FromEnv([]string{"DATABASE_URL=mysql://x", "DB_HOST=db"}); err == nil || !strings.Contains(err.Error(), "DATABASE_URL must") {
		t.Errorf("a bad DATABASE_URL: got %v, want it named", err)
	}
}
