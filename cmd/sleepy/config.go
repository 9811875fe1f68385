package main

import (
	"fmt"
	"strconv"
	"time"
)

const defaultDelay = time.Second

// parseDelay reads SLEEPY_DELAY: a Go duration ("250ms") or a number of seconds ("0.25").
// Empty means the default, one second.
func parseDelay(s string) (time.Duration, error) {
	if s == "" {
		return defaultDelay, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		secs, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil {
			return 0, fmt.Errorf("invalid SLEEPY_DELAY %q: want a duration such as 1s or 250ms, or seconds such as 0.5", s)
		}
		d = time.Duration(secs * float64(time.Second))
	}
	if d < 0 {
		return 0, fmt.Errorf("invalid SLEEPY_DELAY %q: must not be negative", s)
	}
	return d, nil
}

// appVersion is the version sleepy reports: the environment's, else the one built in,
// else "dev".
func appVersion(fromEnv, builtIn string) string {
	switch {
	case fromEnv != "":
		return fromEnv
	case builtIn != "":
		return builtIn
	}
	return "dev"
}

func checkPort(s string) error {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("invalid port %q: want a number from 0 to 65535", s)
	}
	return nil
}
