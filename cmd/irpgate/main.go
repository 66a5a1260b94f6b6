// Command irpgate runs any set of irpgate roles: `irpgate serve
// --target=all` (the default) runs everything in one process with embedded
// SQLite and the sandbox IRP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/server"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "irpgate:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Println("usage: irpgate serve [flags]   (irpgate serve -h lists the flags)")
		return nil
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	default:
		return fmt.Errorf("unknown command %q (want serve)", args[0])
	}
}

func serve(args []string) error {
	cfg := server.Defaults()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	if err := platform.BindFlags(fs, &cfg); err != nil {
		return err
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	srv, err := server.Start(ctx, cfg, server.Options{})
	if err != nil {
		return err
	}
	werr := srv.Wait(ctx)
	return errors.Join(werr, srv.Shutdown(context.WithoutCancel(ctx)))
}
