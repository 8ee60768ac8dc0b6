package config

import (
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// otherVariables are read by Airlock's commands without being config
// keys: the quarantine client's server, and the signals' GitHub token.
var otherVariables = []string{"AIRLOCK_SERVER", "AIRLOCK_GITHUB_TOKEN"}

// EnvNames lists every AIRLOCK_* variable Airlock reads, sorted.
func EnvNames() []string {
	names := append([]string(nil), otherVariables...)
	collectEnvNames(reflect.TypeOf(Config{}), "AIRLOCK", &names)
	sort.Strings(names)
	return names
}

func collectEnvNames(t reflect.Type, prefix string, out *[]string) {
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		env := prefix + "_" + strings.ToUpper(tag)
		if t.Field(i).Type.Kind() == reflect.Struct {
			collectEnvNames(t.Field(i).Type, env, out)
			continue
		}
		*out = append(*out, env)
	}
}

// CheckEnvironment fails on the first AIRLOCK_* variable in environ
// (KEY=VALUE entries, as os.Environ gives) that Airlock does not read: a
// misspelt override must not be silently ignored.
func CheckEnvironment(environ []string) error {
	known := EnvNames()
	var unknown []string
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(k, "AIRLOCK_") {
			continue
		}
		if i := sort.SearchStrings(known, k); i == len(known) || known[i] != k {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) == 0 {
		return nil
	}
	sort.Strings(unknown)
	return fmt.Errorf("config: unknown environment variable %s%s (every AIRLOCK_* variable must name a config key; see config.example.yaml)",
		unknown[0], suggestion(unknown[0], known))
}

// applyEnv overrides scalar keys from the environment. The variable for a key
// is AIRLOCK_ followed by its path in upper case, dots as underscores:
// upstream.url is AIRLOCK_UPSTREAM_URL, data_dir is AIRLOCK_DATA_DIR. Lists
// take comma-separated values. The names are derived from the yaml tags so
// that every documented key has its variable and none can drift.
func applyEnv(cfg *Config, getenv func(string) string) error {
	if getenv == nil {
		return nil
	}
	return walkEnv(reflect.ValueOf(cfg).Elem(), "AIRLOCK", "", getenv)
}

func walkEnv(v reflect.Value, envPrefix, keyPrefix string, getenv func(string) string) error {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag == "" || tag == "-" {
			continue
		}
		env := envPrefix + "_" + strings.ToUpper(tag)
		key := keyPrefix + tag
		field := v.Field(i)
		if field.Kind() == reflect.Struct {
			if err := walkEnv(field, env, key+".", getenv); err != nil {
				return err
			}
			continue
		}
		raw := getenv(env)
		if raw == "" {
			continue
		}
		if err := setFromString(field, raw); err != nil {
			return fmt.Errorf("config: %s (from %s): %w", key, env, err)
		}
	}
	return nil
}

func setFromString(field reflect.Value, raw string) error {
	if u, ok := field.Addr().Interface().(interface{ UnmarshalText([]byte) error }); ok {
		return u.UnmarshalText([]byte(raw))
	}
	switch field.Kind() {
	case reflect.String:
		field.SetString(raw)
	case reflect.Bool:
		b, err := strconv.ParseBool(raw)
		if err != nil {
			return fmt.Errorf("%q is not a boolean", raw)
		}
		field.SetBool(b)
	case reflect.Int, reflect.Int64:
		n, err := strconv.ParseInt(raw, 10, 64)
		if err != nil {
			return fmt.Errorf("%q is not an integer", raw)
		}
		field.SetInt(n)
	case reflect.Slice:
		if field.Type().Elem().Kind() != reflect.String {
			return fmt.Errorf("cannot be set from the environment")
		}
		var items []string
		for _, s := range strings.Split(raw, ",") {
			if s = strings.TrimSpace(s); s != "" {
				items = append(items, s)
			}
		}
		field.Set(reflect.ValueOf(items))
	default:
		return fmt.Errorf("cannot be set from the environment")
	}
	return nil
}
