package platform

import (
	"flag"
	"fmt"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// BindFlags registers one flag per field of the struct cfg points to, using
// the `flag` tag for the name and `usage` for the help text. Each flag's
// default is taken from the IRPGATE_<NAME> environment variable when set
// (dashes become underscores), so flags and env mirror each other and an
// explicit flag wins. Fields tagged `secret:"true"` are never printed by
// Redacted. Supported kinds: string, bool, int, float64, time.Duration.
func BindFlags(fs *flag.FlagSet, cfg any) error {
	return BindFlagsEnv(fs, cfg, os.LookupEnv)
}

// BindFlagsEnv is BindFlags with the environment read through lookup (a container's
// env as a manifest sets it, say).
func BindFlagsEnv(fs *flag.FlagSet, cfg any, lookup func(string) (string, bool)) error {
	v := reflect.ValueOf(cfg).Elem()
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		usage := f.Tag.Get("usage")
		env := EnvName(name)
		usage += " (env " + env + ")"
		fv := v.Field(i)
		envVal, hasEnv := lookup(env)
		switch p := fv.Addr().Interface().(type) {
		case *string:
			def := *p
			if hasEnv {
				def = envVal
			}
			fs.StringVar(p, name, def, usage)
		case *bool:
			def := *p
			if hasEnv {
				b, err := strconv.ParseBool(envVal)
				if err != nil {
					return fmt.Errorf("%s: %q is not a boolean", env, envVal)
				}
				def = b
			}
			fs.BoolVar(p, name, def, usage)
		case *int:
			def := *p
			if hasEnv {
				n, err := strconv.Atoi(envVal)
				if err != nil {
					return fmt.Errorf("%s: %q is not an integer", env, envVal)
				}
				def = n
			}
			fs.IntVar(p, name, def, usage)
		case *float64:
			def := *p
			if hasEnv {
				n, err := strconv.ParseFloat(envVal, 64)
				if err != nil {
					return fmt.Errorf("%s: %q is not a number", env, envVal)
				}
				def = n
			}
			fs.Float64Var(p, name, def, usage)
		case *time.Duration:
			def := *p
			if hasEnv {
				d, err := time.ParseDuration(envVal)
				if err != nil {
					return fmt.Errorf("%s: %q is not a duration", env, envVal)
				}
				def = d
			}
			fs.DurationVar(p, name, def, usage)
		default:
			return fmt.Errorf("platform: field %s has unsupported type %s", f.Name, f.Type)
		}
	}
	return nil
}

// EnvName is the environment variable mirroring a flag.
func EnvName(flagName string) string {
	return "IRPGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Redacted renders cfg as flag=value pairs for a start-up log line; secret
// fields print as "[redacted]" when set, and URL passwords are masked.
func Redacted(cfg any) map[string]string {
	out := map[string]string{}
	v := reflect.ValueOf(cfg)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	t := v.Type()
	for i := range t.NumField() {
		f := t.Field(i)
		name := f.Tag.Get("flag")
		if name == "" {
			continue
		}
		val := fmt.Sprint(v.Field(i).Interface())
		switch {
		case f.Tag.Get("secret") == "true" && val != "":
			val = "[redacted]"
		case strings.Contains(val, "://"):
			val = RedactURL(val)
		}
		out[name] = val
	}
	return out
}

// RedactURL masks the password of a URL such as postgres://u:p@h/db.
func RedactURL(s string) string {
	at := strings.LastIndex(s, "@")
	scheme := strings.Index(s, "://")
	if at < 0 || scheme < 0 || at < scheme {
		return s
	}
	userinfo := s[scheme+3 : at]
	if c := strings.Index(userinfo, ":"); c >= 0 {
		return s[:scheme+3] + userinfo[:c] + ":xxxxx" + s[at:]
	}
	return s
}
