// Command composecheck validates a compose file the way `docker compose
// config` (Compose v2) does, with no Docker installed: it loads the file with
// compose-go, the loader inside Compose v2, which interpolates ${...},
// validates against the Compose Specification's JSON schema, normalizes, and
// checks consistency (every depends_on target, volume and network exists).
//
//	go -C deploy/composecheck run . [-env-file FILE]... [-print] FILE
//
// Without -env-file the file is interpolated in an empty environment (every
// default applies); the process environment is never used, so the result does
// not depend on the machine. It exits 0 when the file is valid, 1 when not,
// 2 on bad usage.
//
// It is a module of its own so that compose-go and its dependencies stay out
// of the service's go.mod. scripts/compose-check.sh and
// internal/deploy/compose_test.go run it.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("composecheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var envFiles files
	fs.Var(&envFiles, "env-file", "an env file for the interpolation (repeatable); default: none, an empty environment")
	print := fs.Bool("print", false, "print the resolved file, as `docker compose config` does")
	if err := fs.Parse(args); err != nil || fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: composecheck [-env-file FILE]... [-print] COMPOSE_FILE")
		return 2
	}
	project, err := load(fs.Arg(0), envFiles)
	if err != nil {
		fmt.Fprintf(stderr, "composecheck: %s: invalid: %v\n", fs.Arg(0), err)
		return 1
	}
	if *print {
		out, err := project.MarshalYAML()
		if err != nil {
			fmt.Fprintln(stderr, "composecheck:", err)
			return 1
		}
		_, _ = stdout.Write(out)
		return 0
	}
	fmt.Fprintf(stdout, "%s: valid (compose-go, Compose Specification), project %q, env files %v\n", fs.Arg(0), project.Name, []string(envFiles))
	summarize(stdout, project)
	return 0
}

func load(path string, envFiles []string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	opts := []cli.ProjectOptionsFn{cli.WithWorkingDirectory(filepath.Dir(abs))}
	if len(envFiles) > 0 {
		// WithEnvFiles with no file would pick up a .env beside the file.
		opts = append(opts, cli.WithEnvFiles(envFiles...), cli.WithDotEnv)
	}
	o, err := cli.NewProjectOptions([]string{abs}, opts...)
	if err != nil {
		return nil, err
	}
	return o.LoadProject(context.Background())
}

// summarize prints one line per service: image, published ports, what it
// waits for.
func summarize(w io.Writer, p *types.Project) {
	names := make([]string, 0, len(p.Services))
	for name := range p.Services {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		s := p.Services[name]
		var ports, deps []string
		for _, port := range s.Ports {
			host := port.Published
			if port.HostIP != "" {
				host = port.HostIP + ":" + host
			}
			ports = append(ports, fmt.Sprintf("%s->%d", host, port.Target))
		}
		for dep, d := range s.DependsOn {
			deps = append(deps, dep+"="+d.Condition)
		}
		sort.Strings(deps)
		fmt.Fprintf(w, "  %-10s image %-28s ports [%s] depends_on [%s] healthcheck %t restart %q\n",
			name, s.Image, strings.Join(ports, " "), strings.Join(deps, " "), s.HealthCheck != nil && !s.HealthCheck.Disable, s.Restart)
	}
}
