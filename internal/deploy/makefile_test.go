package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// makeDryRun runs `make -n TARGET` with the repository's Makefile in dir
// (where .env is read), with a clean environment plus extra, and returns
// the commands make would run.
func makeDryRun(t *testing.T, dir string, extra []string, args ...string) string {
	t.Helper()
	mk, err := exec.LookPath("make")
	if err != nil {
		t.Skip("make is not installed")
	}
	cmd := exec.Command(mk, append([]string{"-s", "-n", "-f", repoFile(t, "Makefile")}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), extra...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("make -n %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// TestMakeRunHonoursDotEnv: `make run` leaves the API's address to trend,
// which reads .env (HTTP_ADDR, or the Python system's FASTAPI_PORT); it
// used to pass HTTP_ADDR=:8000 in the environment, which beats .env. What
// it prints follows the same choice.
func TestMakeRunHonoursDotEnv(t *testing.T) {
	for _, tc := range []struct {
		name, dotenv string
		env, args    []string
		want         string
	}{
		{"no .env", "", nil, nil, "http://localhost:8000/api/movies"},
		{".env HTTP_ADDR", "HTTP_ADDR=:9123 # the API\n", nil, nil, "http://localhost:9123/api/movies"},
		{".env FASTAPI_PORT", "export FASTAPI_PORT=\"7777\"\n", nil, nil, "http://localhost:7777/api/movies"},
		{".env empty HTTP_ADDR", "HTTP_ADDR=\nFASTAPI_PORT=7778\n", nil, nil, "http://localhost:7778/api/movies"},
		// godotenv takes spaces around "=" and trims the value.
		{".env with spaces", "  HTTP_ADDR = :7000   \nFASTAPI_PORT=\"9001\"\n", nil, nil, "http://localhost:7000/api/movies"},
		{"environment beats .env", "HTTP_ADDR=:9123\n", []string{"HTTP_ADDR=127.0.0.1:9200"}, nil, "http://127.0.0.1:9200/api/movies"},
		{"make's command line beats .env", "HTTP_ADDR=:9123\n", nil, []string{"HTTP_ADDR=:9300"}, "http://localhost:9300/api/movies"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out := makeDryRun(t, dir, tc.env, append([]string{"run"}, tc.args...)...)
			var start string
			for _, l := range strings.Split(out, "\n") {
				if strings.Contains(l, "all --no-migrate") {
					start = l
				}
			}
			if start == "" {
				t.Fatalf("make -n run: no command starts trend all:\n%s", out)
			}
			if strings.Contains(start, "HTTP_ADDR=") {
				t.Errorf("make run starts trend with %q, want no HTTP_ADDR in its environment (it would beat .env)", start)
			}
			if !strings.Contains(out, tc.want) {
				t.Errorf("make run prints no %s:\n%s", tc.want, out)
			}
		})
	}
}

// TestMakeBuildNeedsNode2019: the dashboard needs a Node.js that
// frontend/package.json's engines allow (^20.19, ^22.13 or >=24: its
// tools' ranges); with another one (Debian 12's is 18) or no npm, `make
// build` builds the binary without it and says why.
func TestMakeBuildNeedsNode2019(t *testing.T) {
	fake := t.TempDir()
	for name, script := range map[string]string{
		"npm":  "#!/bin/sh\nexit 0\n",
		"node": "#!/bin/sh\necho \"$FAKE_NODE_VERSION\"\n",
	} {
		if err := os.WriteFile(filepath.Join(fake, name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	root := repoFile(t, ".")
	for _, tc := range []struct {
		node, npm string
		dashboard bool
		note      string
	}{
		{"v18.19.0", "npm", false, "Node.js v18.19.0 is not ^20.19, ^22.13 or >=24"},
		{"v20.18.3", "npm", false, "Node.js v20.18.3 is not ^20.19, ^22.13 or >=24"},
		{"v20.19.0", "npm", true, ""},
		{"v21.7.3", "npm", false, "Node.js v21.7.3 is not ^20.19, ^22.13 or >=24"},
		{"v22.12.0", "npm", false, "Node.js v22.12.0 is not ^20.19, ^22.13 or >=24"},
		{"v22.13.0", "npm", true, ""},
		{"v23.11.1", "npm", false, "Node.js v23.11.1 is not ^20.19, ^22.13 or >=24"},
		{"v24.0.0", "npm", true, ""},
		{"v100.0.0", "npm", true, ""},
		// Compared as numbers: as strings, "9" is above "20".
		{"v9.11.2", "npm", false, "Node.js v9.11.2 is not ^20.19, ^22.13 or >=24"},
		{"v22.13.0", "no-such-npm", false, "npm not found"},
	} {
		t.Run(tc.node+" "+tc.npm, func(t *testing.T) {
			out := makeDryRun(t, root, []string{"PATH=" + fake + ":" + os.Getenv("PATH"), "FAKE_NODE_VERSION=" + tc.node}, "build", "NPM="+tc.npm)
			if got := strings.Contains(out, "vite build"); got != tc.dashboard {
				t.Errorf("make build builds the dashboard: got %v, want %v:\n%s", got, tc.dashboard, out)
			}
			if !strings.Contains(out, "go build") {
				t.Errorf("make build: got no go build:\n%s", out)
			}
			if tc.note != "" && !strings.Contains(out, tc.note) {
				t.Errorf("make build: got no note %q:\n%s", tc.note, out)
			}
		})
	}
}

// TestMakeRunSaysWhenTheStandInServes: `make run` says the built-in TMDB
// stand-in serves only when trend starts it: no key or token and
// TMDB_BASE_URL left at TMDB's, each from the environment or from .env
// in any form godotenv reads.
func TestMakeRunSaysWhenTheStandInServes(t *testing.T) {
	for _, tc := range []struct {
		name, dotenv string
		env          []string
		standIn      bool
	}{
		{"no .env", "", nil, true},
		{".env key", "TMDB_API_KEY=abc\n", nil, false},
		{".env exported key", "export TMDB_API_KEY=abc\n", nil, false},
		{".env token with spaces", "  TMDB_READ_TOKEN = eyJ  \n", nil, false},
		{".env empty key", "TMDB_API_KEY=\n", nil, true},
		{".env base URL", "TMDB_BASE_URL=http://127.0.0.1:9999\n", nil, false},
		{".env TMDB's own base URL", "TMDB_BASE_URL=https://api.themoviedb.org/3\n", nil, true},
		{"environment token", "", []string{"TMDB_READ_TOKEN=eyJ"}, false},
		{"environment base URL", "", []string{"TMDB_BASE_URL=http://127.0.0.1:9999"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.dotenv != "" {
				if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(tc.dotenv), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			out := makeDryRun(t, dir, tc.env, "run")
			if got := strings.Contains(out, "stand-in"); got != tc.standIn {
				t.Errorf("make run says the stand-in serves: got %v, want %v:\n%s", got, tc.standIn, out)
			}
		})
	}
}
