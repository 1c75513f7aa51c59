package config

import (
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
