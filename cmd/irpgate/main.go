// Command irpgate runs any set of irpgate roles: `irpgate serve
// --target=all` (the default) runs everything in one process with embedded
// SQLite and the sandbox IRP.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/irpgate/irpgate/internal/platform"
	"github.com/irpgate/irpgate/internal/server"
	"github.com/irpgate/irpgate/services/sandbox"
)

func main() {
	if err := run(os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "irpgate:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Println("usage: irpgate serve [flags]      run roles (irpgate serve -h lists the flags)")
		fmt.Println("       irpgate backup [flags] DIR  copy the database and keys, while irpgate runs, to a new data directory")
		fmt.Println("       irpgate sandbox-keys DIR   write a sandbox key set for a split install (deploy/k8s)")
		fmt.Println("       irpgate version            print the version, VCS revision and Go version")
		return nil
	}
	switch args[0] {
	case "serve":
		return serve(args[1:])
	case "backup":
		return backup(args[1:])
	case "sandbox-keys":
		return sandboxKeys(args[1:])
	case "version", "--version":
		fmt.Println("irpgate", platform.BuildInfo())
		return nil
	default:
		return fmt.Errorf("unknown command %q (want serve, backup, sandbox-keys or version)", args[0])
	}
}

// parseConfig reads serve's flags, and their IRPGATE_* variables, for the command name,
// and returns the arguments after them. usage, if set, replaces the flag package's help.
// -h gives flag.ErrHelp, which run takes for success.
func parseConfig(name string, args []string, usage func(w io.Writer)) (server.Config, []string, error) {
	cfg := server.Defaults()
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	if usage != nil {
		fs.Usage = func() { usage(fs.Output()) }
	}
	if err := platform.BindFlags(fs, &cfg); err != nil {
		return cfg, nil, err
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	return cfg, fs.Args(), nil
}

func serve(args []string) error {
	cfg, _, err := parseConfig("serve", args, nil)
	if err != nil {
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

// sandboxKeys writes the key set a sandbox deployed on its own shares with the services
// that call it: the sandbox's private keys and certificate, and the public key and
// certificate the services are given (deploy/k8s/README.md). Files already there are kept.
func sandboxKeys(args []string) error {
	if len(args) != 1 || strings.HasPrefix(args[0], "-") {
		return errors.New("usage: irpgate sandbox-keys DIR")
	}
	if _, err := sandbox.WriteKeySet(args[0]); err != nil {
		return err
	}
	for _, f := range []string{sandbox.EncryptionKeyFile, sandbox.SigningKeyFile, sandbox.SigningCertFile, sandbox.IRPPublicKeyFile, sandbox.IRPCertFile} {
		fmt.Println(filepath.Join(args[0], f))
	}
	return nil
}
