package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/movietrend/trend/internal/config"
	"github.com/movietrend/trend/internal/dlq"
	"github.com/movietrend/trend/internal/messaging"
)

// DLQCommands are the subcommands of `trend dlq`.
var DLQCommands = []string{"list", "requeue", "purge"}

// DLQOptions are the subcommand and flags of `trend dlq`.
type DLQOptions struct {
	// Command is list, requeue or purge.
	Command string
	// IDs selects dead letters by id.
	IDs IDList
	// All selects every dead letter present when the command starts. List
	// and requeue select every one without IDs as well; purge, which
	// deletes for good, needs IDs or All. IDs and All together are refused.
	All bool
	// JSON prints JSON (the same as the admin API answers).
	JSON bool
	// Out is where the result goes (default: standard output).
	Out io.Writer
}

// IDList is a flag that may be repeated and takes comma-separated values.
type IDList []string

func (l *IDList) String() string { return strings.Join(*l, ",") }

// Set adds the ids in v; an empty one is refused, so that a mistake cannot
// widen a selection to every dead letter.
func (l *IDList) Set(v string) error {
	for id := range strings.SplitSeq(v, ",") {
		id = strings.TrimSpace(id)
		if id == "" {
			return errors.New("empty id")
		}
		*l = append(*l, id)
	}
	return nil
}

// CheckDLQ refuses a selection that cannot be right, before anything runs:
// --all with --id, or a purge that selects nothing explicitly. A bare purge
// deleted every dead letter, letters nobody had seen included.
func CheckDLQ(do DLQOptions) error {
	_, err := do.selection()
	return err
}

// selection is the dead letters do selects.
func (do DLQOptions) selection() (dlq.Selection, error) {
	switch {
	case do.All && len(do.IDs) > 0:
		return dlq.Selection{}, fmt.Errorf("dlq %s: --all and --id cannot go together: select letters with --id ID, or every one with --all; nothing was done", do.Command)
	case len(do.IDs) > 0:
		return dlq.ByID(do.IDs...), nil
	case do.Command == "purge" && !do.All:
		return dlq.Selection{}, errors.New("dlq purge deletes for good: select letters with --id ID, or every one with --all; nothing was done")
	}
	return dlq.All(), nil
}

// RunDLQ is the dlq role: list, requeue or purge the dead letters. It needs
// RabbitMQ only.
func RunDLQ(ctx context.Context, cfg config.Config, do DLQOptions, log *slog.Logger) error {
	if do.Out == nil {
		do.Out = os.Stdout
	}
	// Checked again here (the command line checks it first, as a usage
	// error): nothing may reach Purge with a selection nobody made.
	sel, err := do.selection()
	if err != nil {
		return err
	}
	c := dlq.New(cfg.AMQPURL)
	switch do.Command {
	case "list":
		l, err := c.List(ctx, sel, dlq.MaxLimit)
		if err != nil {
			return fmt.Errorf("list dead letters: %w", err)
		}
		if do.JSON {
			if l.Total > len(l.Letters) && sel.IsAll() {
				// The JSON is the letters alone: say on stderr that it is
				// not all of them, for a script that reads it.
				log.Warn("dead letters listed: the oldest only", "listed", len(l.Letters), "in_queue", l.Total)
			}
			if err := writeJSONTo(do.Out, l.Letters); err != nil {
				return err
			}
			return leftBehind(0, l.NotFound)
		}
		if err := writeLetters(do.Out, l, !sel.IsAll()); err != nil {
			return err
		}
		// As requeue and purge do: an id that matched nothing fails the
		// command (it said "0 shown" and exited 0).
		return leftBehind(0, l.NotFound)
	case "requeue":
		res, err := c.Requeue(ctx, sel)
		if err != nil {
			return fmt.Errorf("requeue dead letters (%d requeued before the failure): %w", res.Requeued, err)
		}
		log.Info("dead letters requeued", "requeued", res.Requeued, "skipped", len(res.Skipped), "not_found", res.NotFound)
		if err := reportRequeue(do, res); err != nil {
			return err
		}
		return leftBehind(len(res.Skipped), res.NotFound)
	case "purge":
		res, err := c.Purge(ctx, sel)
		if err != nil {
			return fmt.Errorf("purge dead letters (%d purged before the failure): %w", res.Purged, err)
		}
		log.Info("dead letters purged", "purged", res.Purged, "not_found", res.NotFound)
		if err := reportPurge(do, res); err != nil {
			return err
		}
		return leftBehind(0, res.NotFound)
	case "":
		return fmt.Errorf("dlq needs a subcommand: %s", strings.Join(DLQCommands, ", "))
	default:
		return fmt.Errorf("unknown dlq subcommand %q (known: %s)", do.Command, strings.Join(DLQCommands, ", "))
	}
}

func writeJSONTo(out io.Writer, v any) error {
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeLetters prints one block per letter: the reason and the payload are
// too long for table columns.
func writeLetters(out io.Writer, l dlq.Listing, selected bool) error {
	head := fmt.Sprintf("%s in %s\n", deadLetters(l.Total), messaging.DeadLetterTopic)
	if selected {
		head = fmt.Sprintf("%d selected of the %s", len(l.Letters), head)
	}
	if _, err := io.WriteString(out, head); err != nil {
		return err
	}
	for _, x := range l.Letters {
		at := "unknown"
		if x.DeadLetteredAt != nil {
			at = x.DeadLetteredAt.Format(time.RFC3339)
		}
		fmt.Fprintf(out, "\n%s\n  topic:         %s\n  handler:       %s\n  dead-lettered: %s\n  reason:        %s\n  payload:       %s\n  payload size:  %d bytes\n",
			orNone(x.ID), orNone(x.Topic), orNone(x.Handler), at, oneLine(x.Reason), oneLine(x.PayloadPreview), x.PayloadBytes)
	}
	if n := len(l.Letters); n < l.Total && !selected {
		_, err := fmt.Fprintf(out, "\n%d shown of %d\n", n, l.Total)
		return err
	}
	return nil
}

func deadLetters(n int) string {
	if n == 1 {
		return "1 dead letter"
	}
	return fmt.Sprintf("%d dead letters", n)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// oneLine keeps a value on its line: newlines and tabs are shown escaped.
func oneLine(s string) string {
	return strings.NewReplacer("\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

func reportRequeue(do DLQOptions, res dlq.RequeueResult) error {
	if do.JSON {
		return writeJSONTo(do.Out, res)
	}
	fmt.Fprintf(do.Out, "requeued %s\n", deadLetters(res.Requeued))
	for _, s := range res.Skipped {
		fmt.Fprintf(do.Out, "left in %s: %s: %s\n", messaging.DeadLetterTopic, orNone(s.ID), s.Reason)
	}
	return reportNotFound(do.Out, res.NotFound)
}

func reportPurge(do DLQOptions, res dlq.PurgeResult) error {
	if do.JSON {
		return writeJSONTo(do.Out, res)
	}
	fmt.Fprintf(do.Out, "purged %s\n", deadLetters(res.Purged))
	return reportNotFound(do.Out, res.NotFound)
}

func reportNotFound(out io.Writer, ids []string) error {
	for _, id := range ids {
		if _, err := fmt.Fprintf(out, "no dead letter with id %s\n", id); err != nil {
			return err
		}
	}
	return nil
}

// leftBehind fails the command when it did not do all it was asked, so a
// script notices.
func leftBehind(skipped int, notFound []string) error {
	var why []string
	if skipped > 0 {
		why = append(why, fmt.Sprintf("%s could not be requeued and stayed in %s", deadLetters(skipped), messaging.DeadLetterTopic))
	}
	if len(notFound) > 0 {
		why = append(why, "no dead letter with id "+strings.Join(notFound, ", "))
	}
	if len(why) == 0 {
		return nil
	}
	// One line, as every error of trend is printed after "trend: "
	// (errors.Join's second line went without it).
	return errors.New(strings.Join(why, "; "))
}
