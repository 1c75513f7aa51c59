package deploy

import (
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// cleanEnv is the environment for a validator: nothing exported on this
// machine may change the interpolation, only the env file given.
func cleanEnv() []string {
	env := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for _, k := range []string{"GOPATH", "GOMODCACHE", "GOCACHE", "GOPROXY", "GOFLAGS", "GONOSUMDB", "GOPRIVATE", "GOTOOLCHAIN", "TMPDIR"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// TestComposeValidates runs every compose validator available here on
// docker-compose.yml, with no .env and with .env.example: compose-go (the
// loader of Compose v2, deploy/composecheck), `docker compose` (v2) and
// Debian's `docker-compose` (v1). At least one must run.
// scripts/compose-check.sh does the same and installs docker-compose.
func TestComposeValidates(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: compose validation skipped (scripts/compose-check.sh runs it)")
	}
	compose, example := repoFile(t, "docker-compose.yml"), repoFile(t, ".env.example")
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.env")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ran, unavailable := 0, []string{}
	validate := func(name string, args ...string) {
		t.Helper()
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Env = cleanEnv()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Errorf("%s: docker-compose.yml is invalid: %v\n%s", name, err, out)
			return
		}
		t.Logf("%s: %s", name, firstLine(out))
	}

	// compose-go: build the checker (its own module, fetched from the Go
	// module proxy once) and run it.
	checker := filepath.Join(dir, "composecheck")
	build := exec.Command("go", "build", "-o", checker, ".")
	build.Dir = repoFile(t, "deploy/composecheck")
	build.Env = append(os.Environ(), "GOWORK=off")
	if out, err := build.CombinedOutput(); err != nil {
		unavailable = append(unavailable, "compose-go: cannot build deploy/composecheck: "+firstLine(out))
	} else {
		ran++
		validate("compose-go", checker, compose)
		validate("compose-go with .env.example", checker, "-env-file", example, compose)
	}

	if docker, err := exec.LookPath("docker"); err == nil && exec.Command(docker, "compose", "version").Run() == nil {
		ran++
		for _, env := range []string{empty, example} {
			validate("docker compose (v2) --env-file "+filepath.Base(env), docker, "compose", "--project-directory", filepath.Dir(compose), "-f", compose, "--env-file", env, "config", "-q")
		}
	} else {
		unavailable = append(unavailable, "docker compose (v2): not installed")
	}

	if v1, err := exec.LookPath("docker-compose"); err == nil {
		ran++
		// v1 predates the specification's top-level name: it checks the
		// rest of the file as written.
		b, err := os.ReadFile(compose)
		if err != nil {
			t.Fatal(err)
		}
		stripped := regexp.MustCompile(`(?m)^name:.*\n`).ReplaceAll(b, nil)
		copyPath := filepath.Join(dir, "docker-compose.yml")
		if err := os.WriteFile(copyPath, stripped, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, env := range []string{empty, example} {
			validate("docker-compose (v1) --env-file "+filepath.Base(env), v1, "--project-directory", filepath.Dir(compose), "-f", copyPath, "--env-file", env, "config", "-q")
		}
	} else {
		unavailable = append(unavailable, "docker-compose (v1): not installed")
	}

	if ran == 0 {
		t.Fatalf("no compose validator could run (%s): run scripts/compose-check.sh, which installs Debian's docker-compose, or make the Go module proxy reachable",
			strings.Join(unavailable, "; "))
	}
	for _, u := range unavailable {
		t.Logf("skipped: %s", u)
	}
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(strings.TrimSpace(string(b)), "\n")
	return s
}

// TestStaticBinaries builds what the Dockerfile builds, as it builds it
// (CGO_ENABLED=0), and checks that neither binary needs a dynamic loader or
// a shared library: the distroless static image has no libc.
func TestStaticBinaries(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds skipped")
	}
	dir := t.TempDir()
	for _, pkg := range []string{"./cmd/trend", "./deploy/healthcheck"} {
		out := filepath.Join(dir, filepath.Base(pkg))
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
		cmd.Dir = repoFile(t, ".")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", pkg, err, b)
		}
		f, err := elf.Open(out)
		if err != nil {
			t.Fatalf("%s: %v", pkg, err)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Errorf("%s: got a PT_INTERP program header (a dynamic loader), want a static binary", pkg)
			}
		}
		if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
			t.Errorf("%s: got shared libraries %v, want none", pkg, libs)
		}
		f.Close()
	}
}

// TestDockerGoVersion: the Go of the build stage is exactly the toolchain
// go.mod names, patch release included. The official golang images set
// GOTOOLCHAIN=local, so go.mod's toolchain line (a patch release that fixes
// the standard library's known vulnerabilities) is not downloaded there: the
// image's own Go builds the binary.
func TestDockerGoVersion(t *testing.T) {
	mod := readRepoFile(t, "go.mod")
	want := regexp.MustCompile(`(?m)^toolchain go(\S+)\s*$`).FindStringSubmatch(mod)
	if want == nil {
		want = regexp.MustCompile(`(?m)^go (\S+)\s*$`).FindStringSubmatch(mod)
	}
	if want == nil {
		t.Fatal("go.mod: got neither a toolchain nor a go line")
	}
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(want[1]) {
		t.Errorf("go.mod: Go %s, want a full version (1.26.10) to pin the image to", want[1])
	}
	a := regexp.MustCompile(`(?m)^ARG GO_VERSION=(\S+)\s*$`).FindStringSubmatch(readRepoFile(t, "Dockerfile"))
	if a == nil || a[1] != want[1] {
		t.Errorf("Dockerfile ARG GO_VERSION: got %v, want go.mod's toolchain %s", a, want[1])
	}
	if from := dockerStages(t, "Dockerfile")[0].From; from != "golang:${GO_VERSION}-alpine" {
		t.Errorf("Dockerfile build stage: got FROM %s, want golang:${GO_VERSION}-alpine", from)
	}
}
