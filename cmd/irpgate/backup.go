package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/irpgate/irpgate/internal/server"
)

// backup copies the database and keys of the irpgate that serve's flags (or IRPGATE_*
// variables) describe to a new data directory, while that irpgate runs.
func backup(args []string) error {
	cfg, rest, err := parseConfig("backup", args, backupUsage)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		backupUsage(os.Stderr)
		if len(rest) > 1 && slices.ContainsFunc(rest[1:], func(a string) bool { return strings.HasPrefix(a, "-") }) {
			return errors.New("backup: put the flags before DIR (" + strings.Join(rest[1:], " ") + " came after it)")
		}
		return errors.New("backup: name one destination directory")
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := server.Backup(ctx, cfg, rest[0])
	if err != nil {
		return err
	}
	w := os.Stdout
	if r.Database == "" {
		fmt.Fprintln(w, "database: PostgreSQL, not copied (back it up with pg_dump)")
	} else {
		fmt.Fprintln(w, "database:", r.Database, "(integrity check ok)")
		fmt.Fprintf(w, "  %-32s %8s\n", "table", "rows")
		tables := make([]string, 0, len(r.Rows))
		for name := range r.Rows {
			tables = append(tables, name)
		}
		slices.Sort(tables)
		for _, name := range tables {
			fmt.Fprintf(w, "  %-32s %8d\n", name, r.Rows[name])
		}
	}
	for _, f := range r.Files {
		fmt.Fprintln(w, "file:", f)
	}
	fmt.Fprintln(w, "The copy holds the master key: keep it as safe as the data directory.")
	restore := "irpgate serve --data-dir " + r.Dir
	if r.Database != "" && cfg.DatabaseURL != "" {
		// The database was the file --database-url names: the copy is in DIR, so the URL
		// must name it (with the same parameters), or serve would open the original.
		restore += " --database-url='" + copyURL(cfg.DatabaseURL, r.Database) + "'"
	}
	fmt.Fprintf(w, "Restore: %s (with the other flags as before)\n", restore)
	return nil
}

// copyURL is the SQLite URL of the database copy at path, with the query (pragmas) of the
// URL the original was opened with.
func copyURL(original, path string) string {
	u := "sqlite://" + path
	if _, q, ok := strings.Cut(original, "?"); ok {
		u += "?" + q
	}
	return u
}

func backupUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: irpgate backup [serve's flags] DIR")
	fmt.Fprintln(w, "Copies the embedded SQLite database (one consistent snapshot, taken while irpgate runs)")
	fmt.Fprintln(w, "and the keys to DIR, a new data directory: irpgate serve --data-dir DIR starts from it.")
	fmt.Fprintln(w, "Only --data-dir, --database-url, --master-key-file and --sandbox-data-dir matter here.")
}
