package deploy

import (
	"bufio"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/movietrend/trend/internal/config"
)

// The contract, from issue 6 and DESIGN.md.
var (
	wantServices = []string{"postgres", "rabbitmq", "migrate", "api", "relay", "worker", "dashboard"}
	// The services built from the trend image, and their commands.
	trendCommands = map[string][]string{
		"migrate": {"migrate"},
		"api":     {"api", "--no-migrate"},
		"relay":   {"relay", "--no-migrate"},
		"worker":  {"worker", "--no-migrate"},
	}
	// Variables the issue names; programVariables (internal/config) must
	// hold them too, and may hold more.
	issueVariables = []string{
		"DATABASE_URL", "AMQP_URL", "HTTP_ADDR", "TMDB_API_KEY", "TMDB_READ_TOKEN", "TMDB_BASE_URL", "ADMIN_TOKEN", "LOG_LEVEL",
		"POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB", "DB_HOST", "RABBITMQ_DEFAULT_USER", "RABBITMQ_DEFAULT_PASS", "MQ_HOST", "FASTAPI_PORT",
	}
	// Where the health probe lives in the trend image (the Dockerfile copies it there).
	probePath = "/usr/local/bin/healthcheck"
)

// ---- the compose file, as the tests see it -----------------------------------

type composeFile struct {
	Name     string              `yaml:"name"`
	Services map[string]*service `yaml:"services"`
	Volumes  map[string]any      `yaml:"volumes"`
}

type service struct {
	Image           string               `yaml:"image"`
	Build           *build               `yaml:"build"`
	PullPolicy      string               `yaml:"pull_policy"`
	Command         stringList           `yaml:"command"`
	ContainerName   string               `yaml:"container_name"`
	Hostname        string               `yaml:"hostname"`
	Ports           []port               `yaml:"ports"`
	Environment     envMap               `yaml:"environment"`
	EnvFile         any                  `yaml:"env_file"`
	Healthcheck     *healthcheck         `yaml:"healthcheck"`
	DependsOn       map[string]dependsOn `yaml:"depends_on"`
	Restart         string               `yaml:"restart"`
	StopGracePeriod string               `yaml:"stop_grace_period"`
	StopSignal      string               `yaml:"stop_signal"`
	Volumes         []string             `yaml:"volumes"`
	ReadOnly        bool                 `yaml:"read_only"`
	User            string               `yaml:"user"`
	CapDrop         []string             `yaml:"cap_drop"`
	SecurityOpt     []string             `yaml:"security_opt"`
}

type build struct {
	Context    string `yaml:"context"`
	Dockerfile string `yaml:"dockerfile"`
}

type dependsOn struct {
	Condition string `yaml:"condition"`
}

type healthcheck struct {
	Test        stringList `yaml:"test"`
	Interval    string     `yaml:"interval"`
	Timeout     string     `yaml:"timeout"`
	Retries     int        `yaml:"retries"`
	StartPeriod string     `yaml:"start_period"`
	Disable     bool       `yaml:"disable"`
}

// stringList is a command or a health check test: a list, or a string
// (which compose runs through a shell).
type stringList []string

func (l *stringList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = stringList{"CMD-SHELL", n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

// envMap is an environment: a map, or a list of KEY=value.
type envMap map[string]string

func (m *envMap) UnmarshalYAML(n *yaml.Node) error {
	*m = envMap{}
	if n.Kind == yaml.SequenceNode {
		var list []string
		if err := n.Decode(&list); err != nil {
			return err
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			(*m)[k] = v
		}
		return nil
	}
	var raw map[string]*string
	if err := n.Decode(&raw); err != nil {
		return err
	}
	for k, v := range raw {
		if v != nil {
			(*m)[k] = *v
		} else {
			(*m)[k] = ""
		}
	}
	return nil
}

// port is a published port, from the short ("[IP:]HOST:CONTAINER[/proto]")
// or the long syntax, with the comment written beside it.
type port struct {
	HostIP, Published, Target, Protocol string
	Comment                             string
}

func (p *port) UnmarshalYAML(n *yaml.Node) error {
	p.Comment = strings.TrimSpace(n.HeadComment + " " + n.LineComment)
	if n.Kind == yaml.MappingNode {
		var long struct {
			HostIP    string `yaml:"host_ip"`
			Published string `yaml:"published"`
			Target    string `yaml:"target"`
			Protocol  string `yaml:"protocol"`
		}
		if err := n.Decode(&long); err != nil {
			return err
		}
		p.HostIP, p.Published, p.Target, p.Protocol = long.HostIP, long.Published, long.Target, long.Protocol
		return nil
	}
	s := n.Value
	s, p.Protocol, _ = strings.Cut(s, "/")
	parts := strings.Split(s, ":")
	switch len(parts) {
	case 1:
		p.Target = parts[0] // not published on the host
	case 2:
		p.Published, p.Target = parts[0], parts[1]
	case 3:
		p.HostIP, p.Published, p.Target = parts[0], parts[1], parts[2]
	default:
		return fmt.Errorf("port %q: want [IP:]HOST:CONTAINER", n.Value)
	}
	return nil
}

func (p port) String() string {
	return strings.TrimPrefix(p.HostIP+":"+p.Published+":"+p.Target, ":")
}

func repoFile(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("..", "..", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func readRepoFile(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(repoFile(t, name))
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return string(b)
}

// loadCompose parses docker-compose.yml and interpolates it as compose
// does, with env as the variables (.env and the shell), and returns the
// names of the variables it refers to.
func loadCompose(t testing.TB, env map[string]string) (*composeFile, []string) {
	t.Helper()
	var root yaml.Node
	if err := yaml.Unmarshal([]byte(readRepoFile(t, "docker-compose.yml")), &root); err != nil {
		t.Fatalf("docker-compose.yml does not parse: %v", err)
	}
	used := map[string]bool{}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node, isKey bool)
	walk = func(n *yaml.Node, isKey bool) {
		if n == nil || seen[n] || n.Kind == yaml.AliasNode {
			return // an alias refers to a node already interpolated where it is defined
		}
		seen[n] = true
		switch n.Kind {
		case yaml.ScalarNode:
			if isKey {
				return // compose interpolates values, not keys
			}
			v, err := interpolate(n.Value, env, used)
			if err != nil {
				t.Fatalf("docker-compose.yml line %d: %v", n.Line, err)
			}
			n.Value = v
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				walk(n.Content[i], true)
				walk(n.Content[i+1], false)
			}
		default:
			for _, c := range n.Content {
				walk(c, false)
			}
		}
	}
	walk(&root, false)
	var cf composeFile
	if err := root.Decode(&cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	names := make([]string, 0, len(used))
	for k := range used {
		names = append(names, k)
	}
	sort.Strings(names)
	return &cf, names
}

var interpolation = regexp.MustCompile(`\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))`)

// interpolate does what compose does to ${VAR}, ${VAR:-default},
// ${VAR-default}, ${VAR:?error}, ${VAR?error}, ${VAR:+alt}, ${VAR+alt},
// $VAR and $$.
func interpolate(s string, env map[string]string, used map[string]bool) (string, error) {
	var err error
	out := interpolation.ReplaceAllStringFunc(s, func(m string) string {
		g := interpolation.FindStringSubmatch(m)
		if g[1] == "$" {
			return "$"
		}
		name, op, arg := g[2], g[3], g[4]
		if name == "" {
			name = g[5]
		}
		used[name] = true
		v, set := env[name]
		switch op {
		case "":
			return v
		case ":-":
			if v == "" {
				return arg
			}
		case "-":
			if !set {
				return arg
			}
		case ":?":
			if v == "" {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		case "?":
			if !set {
				err = fmt.Errorf("%s: %s", name, arg)
			}
		case ":+":
			if v != "" {
				return arg
			}
			return ""
		case "+":
			if set {
				return arg
			}
			return ""
		}
		return v
	})
	return out, err
}

// ---- .env.example --------------------------------------------------------------

type envVar struct {
	Name, Value, Comment string
	Line                 int
}

// readEnvExample parses .env.example: KEY=value lines, each with the
// comment lines right above it (a blank line ends a comment).
func readEnvExample(t testing.TB) []envVar {
	t.Helper()
	var vars []envVar
	var comment []string
	sc := bufio.NewScanner(strings.NewReader(readRepoFile(t, ".env.example")))
	assign := regexp.MustCompile(`^([A-Za-z_][A-Za-z0-9_]*)=(.*)$`)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		switch {
		case text == "":
			comment = nil
		case strings.HasPrefix(text, "#"):
			if c := strings.TrimSpace(strings.TrimLeft(text, "#")); c != "" {
				comment = append(comment, c)
			}
		default:
			m := assign.FindStringSubmatch(text)
			if m == nil {
				t.Errorf(".env.example line %d: got %q, want KEY=value or a # comment", line, text)
				continue
			}
			vars = append(vars, envVar{Name: m[1], Value: strings.Trim(m[2], `"'`), Comment: strings.Join(comment, " "), Line: line})
			comment = nil
		}
	}
	return vars
}

func envExampleMap(t testing.TB) map[string]string {
	m := map[string]string{}
	for _, v := range readEnvExample(t) {
		m[v.Name] = v.Value
	}
	return m
}

// programVariables are the variables internal/config reads, from its
// struct tags: whatever someone adds there must reach .env.example.
func programVariables() []string {
	var names []string
	var walk func(reflect.Type)
	walk = func(typ reflect.Type) {
		for f := range typ.Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
				names = append(names, name)
			}
			if f.Type.Kind() == reflect.Struct && (f.Type.Name() == "" || f.Type.PkgPath() == typ.PkgPath()) {
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[config.Config]())
	sort.Strings(names)
	return names
}

// ---- the tests ---------------------------------------------------------------

func TestComposeServices(t *testing.T) {
	cf, _ := loadCompose(t, nil)
	for _, name := range wantServices {
		if cf.Services[name] == nil {
			t.Errorf("service %s: got none, want it (issue 6)", name)
		}
	}
	for name := range cf.Services {
		if !slices.Contains(wantServices, name) {
			t.Errorf("service %s: got an unexpected service, want only %v (update this test with the issue that adds it)", name, wantServices)
		}
	}
	if cf.Name == "" {
		t.Errorf("name: got none, want a project name (stable container and volume names whatever the checkout's folder)")
	}
	if t.Failed() {
		t.FailNow()
	}

	t.Run("images", func(t *testing.T) {
		official := regexp.MustCompile(`^postgres:[0-9][^/]*$`)
		if img := cf.Services["postgres"].Image; !official.MatchString(img) {
			t.Errorf("postgres image: got %q, want the official image with a version tag (postgres:17...)", img)
		}
		management := regexp.MustCompile(`^rabbitmq:([0-9][0-9.]*-)?management$`)
		if img := cf.Services["rabbitmq"].Image; !management.MatchString(img) {
			t.Errorf("rabbitmq image: got %q, want rabbitmq:*-management (the management UI on 15672)", img)
		}
		trendImage := cf.Services["api"].Image
		for name := range trendCommands {
			s := cf.Services[name]
			if s.Image == "" || s.Image != trendImage {
				t.Errorf("%s image: got %q, want the api's %q (one image, one role per service)", name, s.Image, trendImage)
			}
			if name == "migrate" {
				if s.Build == nil || s.Build.Context != "." || s.Build.Dockerfile != "Dockerfile" {
					t.Errorf("%s build: got %+v, want context . and Dockerfile", name, s.Build)
				}
				// Compose's default pulls a missing image before it builds:
				// a plain `up` would ask Docker Hub for our tag.
				if s.PullPolicy != "build" {
					t.Errorf("%s pull_policy: got %q, want build (built here, never pulled)", name, s.PullPolicy)
				}
				continue
			}
			// One service builds the tag: several building it at once make
			// Compose's parallel (bake) builds export the same tag twice,
			// which can fail the first `up --build` with "already exists".
			// The others wait for migrate (start order), so it is built
			// whenever they start, and must never be pulled: it is on no
			// registry.
			if s.Build != nil {
				t.Errorf("%s build: got %+v, want none (migrate builds %s)", name, s.Build, trendImage)
			}
			if s.PullPolicy != "never" {
				t.Errorf("%s pull_policy: got %q, want never (the image is built by migrate, not pulled)", name, s.PullPolicy)
			}
		}
		if b := cf.Services["dashboard"].Build; b == nil || b.Context != "." || b.Dockerfile != "frontend/Dockerfile" {
			t.Errorf("dashboard build: got %+v, want context . and frontend/Dockerfile", b)
		}
		if p := cf.Services["dashboard"].PullPolicy; p != "build" {
			t.Errorf("dashboard pull_policy: got %q, want build (built here, never pulled)", p)
		}
	})

	t.Run("ports", func(t *testing.T) {
		nginxPort := nginxListenPort(t)
		want := map[string][]string{
			"api":       {"8000:8000"},
			"dashboard": {"3000:" + nginxPort},
			"rabbitmq":  {"127.0.0.1:15672:15672", "127.0.0.1:5672:5672"},
			"postgres":  {"127.0.0.1:5432:5432"},
		}
		for _, name := range wantServices {
			var got []string
			for _, p := range cf.Services[name].Ports {
				got = append(got, p.String())
			}
			sort.Strings(got)
			w := want[name]
			sort.Strings(w)
			if !slices.Equal(got, w) {
				t.Errorf("%s ports: got %v, want %v", name, got, w)
			}
		}
		// Security: the database and the broker publish only to loopback,
		// except the management UI, and every published port says why.
		for _, name := range []string{"postgres", "rabbitmq"} {
			for _, p := range cf.Services[name].Ports {
				if p.Target != "15672" && p.HostIP != "127.0.0.1" {
					t.Errorf("%s port %s: got host IP %q, want 127.0.0.1 (never the network)", name, p, p.HostIP)
				}
				if len(p.Comment) < 20 {
					t.Errorf("%s port %s: got comment %q, want a comment saying why it is published", name, p, p.Comment)
				}
			}
		}
		w := cf.Services["worker"]
		if len(w.Ports) != 0 {
			t.Errorf("worker ports: got %v, want none (docker compose up --scale worker=3)", w.Ports)
		}
		for name, s := range cf.Services {
			if s.ContainerName != "" {
				t.Errorf("%s container_name: got %q, want none (fixed names stop --scale and clash between checkouts)", name, s.ContainerName)
			}
		}
	})

	t.Run("healthchecks", func(t *testing.T) {
		for _, name := range wantServices {
			s := cf.Services[name]
			hc := s.Healthcheck
			if name == "migrate" {
				if hc != nil && !hc.Disable {
					t.Errorf("migrate healthcheck: got %v, want none (a one-shot job)", hc.Test)
				}
				continue
			}
			if hc == nil || hc.Disable || len(hc.Test) < 2 {
				t.Errorf("%s healthcheck: got %+v, want one (every long-running service)", name, hc)
				continue
			}
			if hc.Test[0] != "CMD" && hc.Test[0] != "CMD-SHELL" {
				t.Errorf("%s healthcheck test: got %q, want CMD or CMD-SHELL first", name, hc.Test)
			}
			for field, d := range map[string]string{"interval": hc.Interval, "timeout": hc.Timeout, "start_period": hc.StartPeriod} {
				if _, err := time.ParseDuration(d); err != nil {
					t.Errorf("%s healthcheck %s: got %q, want a duration", name, field, d)
				}
			}
			if hc.Retries < 1 {
				t.Errorf("%s healthcheck retries: got %d, want at least 1", name, hc.Retries)
			}
			if _, ok := trendCommands[name]; ok {
				// The trend image is distroless: no shell, no curl.
				if hc.Test[0] != "CMD" || hc.Test[1] != probePath {
					t.Errorf("%s healthcheck: got %q, want [CMD %s ...] (the image has no shell)", name, hc.Test, probePath)
				}
			}
		}
		api := cf.Services["api"].Healthcheck
		if api != nil && len(api.Test) == 3 {
			u, err := url.Parse(api.Test[2])
			wantPort := addrPort(t, cf.Services["api"].Environment["HTTP_ADDR"])
			if err != nil || u.Port() != wantPort || (u.Path != "/healthz" && u.Path != "/readyz") {
				t.Errorf("api healthcheck URL: got %q, want http://127.0.0.1:%s/healthz (HTTP_ADDR)", api.Test[2], wantPort)
			}
		} else {
			t.Errorf("api healthcheck: got %+v, want [CMD %s URL]", api, probePath)
		}
		for _, name := range []string{"relay", "worker"} {
			// Their liveness on HEALTH_ADDR, not the process check (a hung
			// loop kept its process, and so its "healthy").
			s := cf.Services[name]
			addr := s.Environment["HEALTH_ADDR"]
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host != "127.0.0.1" {
				t.Errorf("%s HEALTH_ADDR: got %q, want 127.0.0.1:PORT (loopback: the probe runs in the container)", name, addr)
				continue
			}
			want := []string{"CMD", probePath, "http://127.0.0.1:" + port + "/healthz"}
			if hc := s.Healthcheck; hc == nil || !slices.Equal(hc.Test, want) {
				t.Errorf("%s healthcheck: got %+v, want the liveness check %q", name, hc, want)
			}
			for _, p := range s.Ports {
				if p.Target == port {
					t.Errorf("%s publishes %s, its HEALTH_ADDR port: want it unpublished", name, p)
				}
			}
		}
		pg := cf.Services["postgres"].Healthcheck
		if pg == nil || !strings.Contains(strings.Join(pg.Test, " "), "pg_isready") || !strings.Contains(strings.Join(pg.Test, " "), "-h 127.0.0.1") {
			t.Errorf("postgres healthcheck: got %+v, want pg_isready over TCP (-h 127.0.0.1: not ready during initdb)", pg)
		}
		mq := cf.Services["rabbitmq"].Healthcheck
		if mq == nil || !slices.Contains(mq.Test, "rabbitmq-diagnostics") {
			t.Errorf("rabbitmq healthcheck: got %+v, want rabbitmq-diagnostics", mq)
		}
	})

	t.Run("start order", func(t *testing.T) {
		healthy, done := "service_healthy", "service_completed_successfully"
		want := map[string]map[string]string{
			"postgres":  {},
			"rabbitmq":  {},
			"migrate":   {"postgres": healthy},
			"api":       {"postgres": healthy, "rabbitmq": healthy, "migrate": done},
			"relay":     {"postgres": healthy, "rabbitmq": healthy, "migrate": done},
			"worker":    {"postgres": healthy, "rabbitmq": healthy, "migrate": done},
			"dashboard": {"api": healthy},
		}
		for name, w := range want {
			got := map[string]string{}
			for dep, d := range cf.Services[name].DependsOn {
				got[dep] = d.Condition
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("%s depends_on: got %v, want %v", name, got, w)
			}
			for dep, cond := range got {
				if d := cf.Services[dep]; cond == healthy && (d == nil || d.Healthcheck == nil) {
					t.Errorf("%s waits for %s to be healthy: got no healthcheck on %s, want one", name, dep, dep)
				}
			}
		}
	})

	t.Run("restart and stop", func(t *testing.T) {
		for _, name := range wantServices {
			s := cf.Services[name]
			if name == "migrate" {
				if s.Restart != "no" {
					t.Errorf("migrate restart: got %q, want \"no\" (runs once)", s.Restart)
				}
				continue
			}
			if s.Restart != "unless-stopped" && s.Restart != "always" && !strings.HasPrefix(s.Restart, "on-failure") {
				t.Errorf("%s restart: got %q, want unless-stopped, always or on-failure", name, s.Restart)
			}
		}
		for name := range trendCommands {
			d, err := time.ParseDuration(cf.Services[name].StopGracePeriod)
			if err != nil || d < 15*time.Second || d > time.Minute {
				t.Errorf("%s stop_grace_period: got %q, want 15s..1m (the roles stop within about 15 s on SIGTERM)", name, cf.Services[name].StopGracePeriod)
			}
		}
		// nginx's image stops on SIGQUIT, which waits for open requests,
		// and a dashboard tab's live stream never ends.
		if got := cf.Services["dashboard"].StopSignal; got != "SIGTERM" {
			t.Errorf("dashboard stop_signal: got %q, want SIGTERM (SIGQUIT waits for the live streams, which never end)", got)
		}
	})

	t.Run("privileges", func(t *testing.T) {
		for _, name := range append(slices.Collect(maps.Keys(trendCommands)), "dashboard") {
			s := cf.Services[name]
			if !slices.Contains(s.CapDrop, "ALL") || !slices.Contains(s.SecurityOpt, "no-new-privileges:true") {
				t.Errorf("%s: cap_drop %v, security_opt %v; want ALL dropped and no-new-privileges:true", name, s.CapDrop, s.SecurityOpt)
			}
		}
		for name := range trendCommands {
			if !cf.Services[name].ReadOnly {
				t.Errorf("%s: want read_only (the roles write no file)", name)
			}
		}
		// The dashboard's NGINX runs unprivileged: its probe asks the port it listens on.
		want := "http://127.0.0.1:" + nginxListenPort(t) + "/"
		if hc := cf.Services["dashboard"].Healthcheck; hc == nil || !slices.Contains(hc.Test, want) {
			t.Errorf("dashboard healthcheck: got %+v, want one asking %s", hc, want)
		}
	})

	t.Run("roles", func(t *testing.T) {
		for name, want := range trendCommands {
			if got := []string(cf.Services[name].Command); !slices.Equal(got, want) {
				t.Errorf("%s command: got %q, want %q", name, got, want)
			}
		}
	})

	t.Run("volumes", func(t *testing.T) {
		for name, dir := range map[string]string{"postgres": "/var/lib/postgresql/data", "rabbitmq": "/var/lib/rabbitmq"} {
			var found bool
			for _, v := range cf.Services[name].Volumes {
				vol, target, _ := strings.Cut(v, ":")
				target, _, _ = strings.Cut(target, ":")
				if target == dir {
					found = true
					if _, ok := cf.Volumes[vol]; !ok {
						t.Errorf("%s volume %q: got no top-level volume %q, want one (a named volume)", name, v, vol)
					}
				}
			}
			if !found {
				t.Errorf("%s volumes: got %v, want a named volume on %s", name, cf.Services[name].Volumes, dir)
			}
		}
		if cf.Services["rabbitmq"].Hostname == "" {
			t.Errorf("rabbitmq hostname: got none, want a fixed one (the node name locates its data in the volume)")
		}
	})
}

// TestComposeEnvironment feeds each trend container's environment, as
// compose would make it, to internal/config and checks where the program
// would connect.
func TestComposeEnvironment(t *testing.T) {
	cases := map[string]map[string]string{
		"no .env":      nil,
		".env.example": envExampleMap(t),
		"a .env for local runs": {
			// Local-run values must not leak into the containers.
			"DATABASE_URL": "postgres://me:pw@localhost:5432/mine", "AMQP_URL": "amqp://me:pw@localhost:5672/",
			"HTTP_ADDR": ":9999", "DB_HOST": "localhost", "MQ_HOST": "localhost", "FASTAPI_PORT": "7777",
			"POSTGRES_PASSWORD": "p@ss/w:rd#1", "RABBITMQ_DEFAULT_USER": "trend", "RABBITMQ_DEFAULT_PASS": "s3cr%t",
			"TMDB_API_KEY": "k", "LOG_LEVEL": "debug",
		},
	}
	for name, env := range cases {
		t.Run(name, func(t *testing.T) {
			cf, _ := loadCompose(t, env)
			pg, mq := cf.Services["postgres"].Environment, cf.Services["rabbitmq"].Environment
			for svc := range trendCommands {
				s := cf.Services[svc]
				if s.EnvFile != nil {
					t.Errorf("%s env_file: got %v, want none (local-run variables in .env would leak in)", svc, s.EnvFile)
				}
				environ := make([]string, 0, len(s.Environment))
				for k, v := range s.Environment {
					environ = append(environ, k+"="+v)
				}
				c, err := config.FromEnv(environ)
				if err != nil {
					t.Errorf("%s: the program refuses its environment: %v", svc, err)
					continue
				}
				db, err := url.Parse(c.DatabaseURL)
				if err != nil {
					t.Fatalf("%s: DATABASE_URL %q: %v", svc, config.Redacted(c.DatabaseURL), err)
				}
				pass, _ := db.User.Password()
				if db.Host != "postgres:5432" || db.User.Username() != pg["POSTGRES_USER"] || pass != pg["POSTGRES_PASSWORD"] || db.Path != "/"+pg["POSTGRES_DB"] {
					t.Errorf("%s database: got %s (password %q), want the postgres service: postgres:5432, user %q, password %q, database %q",
						svc, db.Redacted(), pass, pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"])
				}
				mqu, err := url.Parse(c.AMQPURL)
				if err != nil {
					t.Fatalf("%s: AMQP_URL: %v", svc, err)
				}
				mpass, _ := mqu.User.Password()
				if mqu.Host != "rabbitmq:5672" || mqu.User.Username() != mq["RABBITMQ_DEFAULT_USER"] || mpass != mq["RABBITMQ_DEFAULT_PASS"] {
					t.Errorf("%s broker: got %s (password %q), want the rabbitmq service: rabbitmq:5672, user %q, password %q",
						svc, mqu.Redacted(), mpass, mq["RABBITMQ_DEFAULT_USER"], mq["RABBITMQ_DEFAULT_PASS"])
				}
				if svc == "api" {
					var published []string
					for _, p := range s.Ports {
						published = append(published, p.Target)
					}
					if got := addrPort(t, c.HTTPAddr); !slices.Contains(published, got) {
						t.Errorf("api listens on %q: got port %s, want the published container port %v", c.HTTPAddr, got, published)
					}
				}
				if env["TMDB_API_KEY"] != c.TMDBAPIKey || env["LOG_LEVEL"] != "" && env["LOG_LEVEL"] != c.LogLevel {
					t.Errorf("%s: got TMDB key %q and log level %q, want .env's %q and %q passed through", svc, c.TMDBAPIKey, c.LogLevel, env["TMDB_API_KEY"], env["LOG_LEVEL"])
				}
			}
		})
	}
}

// composeLocalOnly are the variables of internal/config that the trend
// containers do not take from .env (they are for local runs), with the
// value docker-compose.yml sets instead ("" for none).
var composeLocalOnly = map[string]string{
	"DATABASE_URL": "", "AMQP_URL": "", "FASTAPI_PORT": "",
	"HTTP_ADDR": ":8000", "DB_HOST": "postgres", "MQ_HOST": "rabbitmq",
	// The port the relay's and worker's health checks probe.
	"HEALTH_ADDR": "127.0.0.1:8081",
}

// composeDefaults are the settings whose default in docker compose is not
// the program's (${NAME:-default}), with that default.
var composeDefaults = map[string]string{
	// Restart policies act on an exit only: a stale relay or worker exits.
	"HEALTH_EXIT_AFTER": "1m",
}

// runtimeVariables are read by Go's runtime, not internal/config; the
// README documents them, so the containers take them from .env too.
var runtimeVariables = []string{"GOGC", "GOMEMLIMIT"}

// TestComposeAPIPortFollowsFASTAPIPORT: as in the Python system's compose
// file, FASTAPI_PORT in .env moves the API's published port; inside, the
// API keeps listening on 8000.
func TestComposeAPIPortFollowsFASTAPIPORT(t *testing.T) {
	for env, want := range map[string]string{"": "8000:8000", "8080": "8080:8000"} {
		cf, _ := loadCompose(t, map[string]string{"FASTAPI_PORT": env})
		var got []string
		for _, p := range cf.Services["api"].Ports {
			got = append(got, p.String())
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("FASTAPI_PORT=%q: api ports %v, want [%s]", env, got, want)
		}
		if a := cf.Services["api"].Environment["HTTP_ADDR"]; a != ":8000" {
			t.Errorf("FASTAPI_PORT=%q: api HTTP_ADDR %q, want :8000", env, a)
		}
	}
}

// TestComposePassesEverySetting: every setting internal/config reads (its
// struct tags, so a new one cannot be forgotten) reaches each trend
// container from .env, except the local-only ones; and with no .env, each
// is empty, which internal/config reads as its default.
func TestComposePassesEverySetting(t *testing.T) {
	names := append(programVariables(), runtimeVariables...)
	env := map[string]string{}
	for _, name := range names {
		env[name] = "from-dotenv-" + strings.ToLower(name)
	}
	cf, _ := loadCompose(t, env)
	for svc := range trendCommands {
		got := cf.Services[svc].Environment
		for _, name := range names {
			v, set := got[name]
			if fixed, local := composeLocalOnly[name]; local {
				if (fixed == "" && set) || v != fixed {
					t.Errorf("%s %s: got %q (set %v), want %q (local runs only: compose sets the containers' own)", svc, name, v, set, fixed)
				}
				continue
			}
			if v != env[name] {
				t.Errorf("%s %s: got %q, want .env's %q passed through (%s: ${%s:-})", svc, name, v, env[name], name, name)
			}
		}
	}

	cf, _ = loadCompose(t, nil)
	defaults, err := config.FromEnv(nil)
	if err != nil {
		t.Fatal(err)
	}
	for svc := range trendCommands {
		e := cf.Services[svc].Environment
		environ := make([]string, 0, len(e))
		for k, v := range e {
			environ = append(environ, k+"="+v)
		}
		c, err := config.FromEnv(environ)
		if err != nil {
			t.Fatalf("%s: the program refuses its environment: %v", svc, err)
		}
		// Every setting but the connections equals the program's default.
		got, want := reflect.ValueOf(c), reflect.ValueOf(defaults)
		for i := range got.NumField() {
			f := got.Type().Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			if name == "" || composeLocalOnly[name] != "" || name == "DATABASE_URL" || name == "AMQP_URL" {
				continue
			}
			if d, ok := composeDefaults[name]; ok {
				if e[name] != d {
					t.Errorf("%s %s with no .env: got %q, want compose's default %q", svc, name, e[name], d)
				}
				continue
			}
			if !reflect.DeepEqual(got.Field(i).Interface(), want.Field(i).Interface()) {
				t.Errorf("%s %s with no .env: got %v, want the default %v", svc, name, got.Field(i).Interface(), want.Field(i).Interface())
			}
		}
		for _, name := range runtimeVariables {
			if e[name] != "" {
				t.Errorf("%s %s with no .env: got %q, want empty (the runtime's and trend's default)", svc, name, e[name])
			}
		}
	}
}

// TestEnvExampleDefaults: each "Default X" in .env.example's comments is
// the default internal/config has (its envDefault tags).
func TestEnvExampleDefaults(t *testing.T) {
	defaults := map[string]string{}
	for f := range reflect.TypeFor[config.Config]().Fields() {
		if name, _, _ := strings.Cut(f.Tag.Get("env"), ","); name != "" {
			if d, ok := f.Tag.Lookup("envDefault"); ok {
				defaults[name] = d
			}
		}
	}
	said := regexp.MustCompile(`\bDefault:? (\S+)`)
	normal := func(v string) string {
		v = strings.TrimRight(v, ".;,:")
		if d, err := time.ParseDuration(v); err == nil && v != "0" {
			return d.String()
		}
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return strconv.FormatFloat(f, 'g', -1, 64)
		}
		return strings.ToLower(v)
	}
	listed := map[string]bool{}
	for _, v := range readEnvExample(t) {
		listed[v.Name] = true
		want, ok := defaults[v.Name]
		if !ok {
			continue
		}
		m := said.FindStringSubmatch(v.Comment)
		if m == nil {
			t.Errorf(".env.example line %d: %s's comment %q names no default, want \"Default %s\"", v.Line, v.Name, v.Comment, want)
			continue
		}
		if normal(m[1]) != normal(want) {
			t.Errorf(".env.example line %d: %s says \"Default %s\", want %s (internal/config's envDefault)", v.Line, v.Name, m[1], want)
		}
	}
	for name := range defaults {
		if !listed[name] {
			t.Errorf(".env.example: got no %s", name)
		}
	}
}

func TestEnvExample(t *testing.T) {
	vars := readEnvExample(t)
	listed := map[string]envVar{}
	for _, v := range vars {
		if prev, dup := listed[v.Name]; dup {
			t.Errorf(".env.example line %d: %s again, first on line %d", v.Line, v.Name, prev.Line)
		}
		listed[v.Name] = v
		if len(v.Comment) < 15 {
			t.Errorf(".env.example line %d: %s has comment %q, want a comment above it saying what it does", v.Line, v.Name, v.Comment)
		}
	}
	program := programVariables()
	for _, name := range issueVariables {
		if !slices.Contains(program, name) {
			t.Errorf("internal/config: got no %s, want it read (issue 6 names it); update issueVariables if it was dropped on purpose", name)
		}
	}
	for _, name := range program {
		if _, ok := listed[name]; !ok {
			t.Errorf(".env.example: got no %s, want every variable the program reads (internal/config)", name)
		}
	}
	_, composeVars := loadCompose(t, nil)
	for _, name := range composeVars {
		if _, ok := listed[name]; !ok {
			t.Errorf(".env.example: got no %s, want every variable docker-compose.yml uses", name)
		}
	}
	for name, v := range listed {
		if !slices.Contains(program, name) && !slices.Contains(composeVars, name) {
			t.Errorf(".env.example line %d: got %s, which neither the program nor docker-compose.yml reads", v.Line, name)
		}
	}
	// The example, copied as it is, must be a valid configuration.
	environ := make([]string, 0, len(vars))
	for _, v := range vars {
		environ = append(environ, v.Name+"="+v.Value)
	}
	if _, err := config.FromEnv(environ); err != nil {
		t.Errorf(".env.example as a configuration: got %v, want it valid", err)
	}
	if ignore := readRepoFile(t, ".gitignore"); !regexp.MustCompile(`(?m)^/?\.env$`).MatchString(ignore) {
		t.Errorf(".gitignore: got no .env line, want .env ignored (it holds secrets)")
	}
}

func addrPort(t testing.TB, addr string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Errorf("listen address %q: %v", addr, err)
	}
	return p
}

// ---- Dockerfiles ---------------------------------------------------------------

type stage struct {
	From, Name string
	Lines      []string // instructions, continuations joined
}

// dockerStages splits a Dockerfile into its stages.
func dockerStages(t testing.TB, name string) []stage {
	t.Helper()
	text := strings.ReplaceAll(readRepoFile(t, name), "\\\n", " ")
	var stages []stage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Fields(line)
		if strings.EqualFold(fields[0], "FROM") {
			var img, as string
			for i := 1; i < len(fields); i++ {
				switch {
				case strings.HasPrefix(fields[i], "--"):
				case strings.EqualFold(fields[i], "AS") && i+1 < len(fields):
					as = fields[i+1]
					i++
				default:
					img = fields[i]
				}
			}
			stages = append(stages, stage{From: img, Name: as})
			continue
		}
		if len(stages) == 0 {
			if !strings.EqualFold(fields[0], "ARG") {
				t.Errorf("%s: got %q before the first FROM, want only ARG", name, line)
			}
			continue
		}
		stages[len(stages)-1].Lines = append(stages[len(stages)-1].Lines, line)
	}
	if len(stages) < 2 {
		t.Fatalf("%s: got %d stages, want a multi-stage build", name, len(stages))
	}
	return stages
}

func (s stage) instructions(kind string) []string {
	var out []string
	for _, l := range s.Lines {
		if f := strings.Fields(l); strings.EqualFold(f[0], kind) {
			out = append(out, strings.TrimSpace(l[len(f[0]):]))
		}
	}
	return out
}

func TestDockerfile(t *testing.T) {
	stages := dockerStages(t, "Dockerfile")
	build, final := stages[0], stages[len(stages)-1]

	if !strings.HasPrefix(build.From, "golang:") {
		t.Errorf("build stage: got FROM %s, want golang", build.From)
	}
	env := strings.Join(build.instructions("ENV"), " ")
	if !regexp.MustCompile(`\bCGO_ENABLED=0\b`).MatchString(env) {
		t.Errorf("build stage ENV: got %q, want CGO_ENABLED=0 (static binaries: the final image has no libc)", env)
	}
	run := strings.Join(build.instructions("RUN"), " ")
	for _, pkg := range []string{"./cmd/trend", "./deploy/healthcheck"} {
		if !strings.Contains(run, pkg) {
			t.Errorf("build stage: got RUN %q, want it to build %s", run, pkg)
		}
	}

	if !strings.HasPrefix(final.From, "gcr.io/distroless/static") && final.From != "scratch" {
		t.Errorf("final stage: got FROM %s, want distroless static or scratch (small, no shell)", final.From)
	}
	users := final.instructions("USER")
	if len(users) == 0 {
		t.Errorf("final stage: got no USER, want a non-root user")
	} else {
		u, _, _ := strings.Cut(users[len(users)-1], ":")
		if u == "root" || u == "0" || u == "" {
			t.Errorf("final stage USER: got %q, want a non-root user", users[len(users)-1])
		}
	}
	copies := strings.Join(final.instructions("COPY"), " ")
	if !strings.Contains(copies, "/out/healthcheck") || !strings.Contains(copies, filepath.Dir(probePath)+"/") {
		t.Errorf("final stage COPY: got %q, want the probe at %s (docker-compose.yml runs it)", copies, probePath)
	}
	if ep := strings.Join(final.instructions("ENTRYPOINT"), " "); ep != `["/usr/local/bin/trend"]` {
		t.Errorf("final stage ENTRYPOINT: got %q, want [\"/usr/local/bin/trend\"] (compose passes the role as the command)", ep)
	}

	ignore := readRepoFile(t, ".dockerignore")
	for _, want := range []string{".env", "**/.env", "**/.env.*", ".git", "**/node_modules"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(want) + `$`).MatchString(ignore) {
			t.Errorf(".dockerignore: got no %q line, want it kept out of the build context", want)
		}
	}
}

func TestFrontendDockerfile(t *testing.T) {
	stages := dockerStages(t, "frontend/Dockerfile")
	build, final := stages[0], stages[len(stages)-1]
	if !strings.HasPrefix(build.From, "node:") {
		t.Errorf("build stage: got FROM %s, want node", build.From)
	}
	run := strings.Join(build.instructions("RUN"), " ; ")
	if !strings.Contains(run, "npm ci") || !regexp.MustCompile(`vite build .*--outDir /out\b`).MatchString(run) {
		t.Errorf("build stage RUN: got %q, want npm ci and vite build --outDir /out", run)
	}
	// The stock nginx image runs its master process as root.
	if !strings.HasPrefix(final.From, "nginxinc/nginx-unprivileged:") {
		t.Errorf("final stage: got FROM %s, want nginxinc/nginx-unprivileged (no process as root)", final.From)
	}
	copies := final.instructions("COPY")
	for _, want := range []string{"frontend/nginx.conf /etc/nginx/conf.d/default.conf", "--from=build /out " + nginxRoot(t)} {
		if !slices.Contains(copies, want) {
			t.Errorf("final stage COPY: got %q, want %q", copies, want)
		}
	}
	// The build context is the repository root: what the build copies must be there.
	for _, f := range []string{"frontend/package.json", "frontend/package-lock.json"} {
		if _, err := os.Stat(repoFile(t, f)); err != nil {
			t.Errorf("%s: %v; want it (npm ci needs it)", f, err)
		}
	}
}

// PostgreSQL allows the connections the README's scaling takes: each
// trend process holds up to 16 on a host of up to 16 CPUs (the pool's
// floor; pgx's default is the CPU count), and the default 100 ran out
// past about --scale worker=4.
func TestComposePostgresAllowsAScaledWorker(t *testing.T) {
	cf, _ := loadCompose(t, nil)
	const want = 16 * (3 + 5) // api, relay, worker, and five more workers
	var got int
	for i, arg := range cf.Services["postgres"].Command {
		if v, ok := strings.CutPrefix(arg, "max_connections="); ok && i > 0 && cf.Services["postgres"].Command[i-1] == "-c" {
			got, _ = strconv.Atoi(v)
		}
	}
	if got < want {
		t.Errorf("postgres max_connections: got %d (command %q), want at least %d", got, cf.Services["postgres"].Command, want)
	}
}
