// Command healthcheck is the container health probe of the trend image.
//
// The image is distroless: no shell, no curl, no wget. Docker runs this
// static binary instead (see docker-compose.yml):
//
//	healthcheck [-timeout 3s] URL    GET URL; exit 0 on a 2xx answer, 1 otherwise
//	healthcheck -process NAME        exit 0 if a process whose program is NAME
//	                                 runs in this container, 1 otherwise
//
// The API is probed over HTTP (/healthz), and so are the relay and the
// worker, on their HEALTH_ADDR (the liveness of their loops). -process
// remains for a container that serves no HTTP at all.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr, "/proc"))
}

func run(args []string, stdout, stderr io.Writer, procDir string) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", 3*time.Second, "give up on the HTTP probe after this long")
	process := fs.String("process", "", "check that a process with this program name runs, instead of an HTTP probe")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: healthcheck [-timeout 3s] URL | healthcheck -process NAME")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var err error
	switch {
	case *process != "" && fs.NArg() == 0:
		err = processAlive(procDir, *process)
	case *process == "" && fs.NArg() == 1:
		err = probe(fs.Arg(0), *timeout)
	default:
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "unhealthy:", err)
		return 1
	}
	fmt.Fprintln(stdout, "healthy")
	return 0
}

// probe GETs url and wants a 2xx answer within timeout.
func probe(url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "trend-healthcheck")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return nil
}

// processAlive looks through procDir (/proc) for a live process whose
// argv[0] has the base name name.
func processAlive(procDir, name string) error {
	entries, err := os.ReadDir(procDir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil || !e.IsDir() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join(procDir, e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue // gone meanwhile, or a kernel thread
		}
		argv0, _, _ := bytes.Cut(cmdline, []byte{0})
		if filepath.Base(string(argv0)) != name {
			continue
		}
		state, err := processState(filepath.Join(procDir, e.Name(), "stat"))
		if err != nil {
			continue
		}
		switch state {
		case "Z", "X", "x", "T", "t":
			return fmt.Errorf("process %s (pid %s) is in state %s", name, e.Name(), state)
		}
		return nil
	}
	return errors.New("no process named " + name)
}

// processState reads the state field of /proc/PID/stat, which follows the
// command name in parentheses (a name that may itself hold spaces or ")").
func processState(statPath string) (string, error) {
	b, err := os.ReadFile(statPath)
	if err != nil {
		return "", err
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", fmt.Errorf("%s: no command name", statPath)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) == 0 {
		return "", fmt.Errorf("%s: no state", statPath)
	}
	return fields[0], nil
}
