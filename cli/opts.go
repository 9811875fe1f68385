package cli

// Flag value types for the service and image commands. Each one checks its value when
// the flag is parsed, so a bad value is refused before any request is made, with pflag's
// message: invalid argument "fast" for "--update-order" flag: must be start-first or
// stop-first. Their Type names are the ones docker's --help shows.

import (
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
)

// parseUint reads a whole number, 0 or more.
func parseUint(s string) (uint64, error) {
	v, err := strconv.ParseUint(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return 0, errors.New("must be a whole number (0 or more)")
	}
	return v, nil
}

// optionalUint is a uint flag that stays unset (nil) unless given, so that "not given"
// and "0" differ (--replicas, --restart-max-attempts).
type optionalUint struct {
	value *uint64
}

func (*optionalUint) Type() string { return "uint" }

func (o *optionalUint) String() string {
	if o.value == nil {
		return ""
	}
	return strconv.FormatUint(*o.value, 10)
}

func (o *optionalUint) Set(s string) error {
	v, err := parseUint(s)
	if err != nil {
		return err
	}
	o.value = &v
	return nil
}

// Value is the number given, or nil.
func (o *optionalUint) Value() *uint64 { return o.value }

// uintValue is a uint64 flag with a default (--update-parallelism).
type uintValue struct {
	value *uint64
}

func newUintValue(p *uint64, def uint64) *uintValue {
	*p = def
	return &uintValue{value: p}
}

func (*uintValue) Type() string     { return "uint64" }
func (u *uintValue) String() string { return strconv.FormatUint(*u.value, 10) }

func (u *uintValue) Set(s string) error {
	v, err := parseUint(s)
	if err != nil {
		return err
	}
	*u.value = v
	return nil
}

// intValue is an int flag that refuses negative numbers (--limit-pids, --health-retries).
type intValue struct {
	value *int64
}

func newIntValue(p *int64) *intValue { return &intValue{value: p} }

func (*intValue) Type() string     { return "int" }
func (i *intValue) String() string { return strconv.FormatInt(*i.value, 10) }

func (i *intValue) Set(s string) error {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || v < 0 {
		return errors.New("must be a whole number (0 or more)")
	}
	*i.value = v
	return nil
}

// parseDuration reads a duration that is not negative.
func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, err
	}
	if d < 0 {
		return 0, errors.New("duration cannot be negative")
	}
	return d, nil
}

// optionalDuration is a duration flag that stays unset (nil) unless given
// (--stop-grace-period, --restart-delay, --health-interval).
type optionalDuration struct {
	value *time.Duration
}

func (*optionalDuration) Type() string { return "duration" }

func (o *optionalDuration) String() string {
	if o.value == nil {
		return ""
	}
	return o.value.String()
}

func (o *optionalDuration) Set(s string) error {
	d, err := parseDuration(s)
	if err != nil {
		return err
	}
	o.value = &d
	return nil
}

// Value is the duration given, or nil.
func (o *optionalDuration) Value() *time.Duration { return o.value }

// durationValue is a duration flag with a zero default (--update-delay, --update-monitor).
type durationValue struct {
	value *time.Duration
}

func (*durationValue) Type() string { return "duration" }

// String is "0" for no duration, which --help counts as no default, as it does for
// pflag's own duration flags.
func (d *durationValue) String() string {
	if *d.value == 0 {
		return "0"
	}
	return d.value.String()
}

func (d *durationValue) Set(s string) error {
	v, err := parseDuration(s)
	if err != nil {
		return err
	}
	*d.value = v
	return nil
}

// choiceValue is a string flag that takes one of a few words, in any case
// (--mode, --update-order, --restart-condition).
type choiceValue struct {
	value   *string
	choices []string
}

func newChoiceValue(p *string, def string, choices ...string) *choiceValue {
	*p = def
	return &choiceValue{value: p, choices: choices}
}

func (*choiceValue) Type() string     { return "string" }
func (c *choiceValue) String() string { return *c.value }

func (c *choiceValue) Set(s string) error {
	for _, choice := range c.choices {
		if strings.EqualFold(s, choice) {
			*c.value = choice
			return nil
		}
	}
	return fmt.Errorf("must be %s", orList(c.choices))
}

// orList writes words as "a", "a or b", "a, b or c".
func orList(words []string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// ratioValue is a failure ratio, between 0 and 1 (--update-max-failure-ratio).
type ratioValue struct {
	value float32
}

func (*ratioValue) Type() string { return "float" }

func (r *ratioValue) String() string {
	return strconv.FormatFloat(float64(r.value), 'g', -1, 32)
}

func (r *ratioValue) Set(s string) error {
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
	if err != nil || v < 0 || v > 1 {
		return errors.New("must be a number between 0 and 1")
	}
	r.value = float32(v)
	return nil
}

// nanoCPUs is a number of CPUs, fractions allowed, stored in billionths (--limit-cpu).
type nanoCPUs int64

func (*nanoCPUs) Type() string { return "decimal" }

func (n *nanoCPUs) String() string {
	if *n == 0 {
		return ""
	}
	return big.NewRat(int64(*n), 1e9).FloatString(3)
}

func (n *nanoCPUs) Set(s string) error {
	cpus, ok := new(big.Rat).SetString(strings.TrimSpace(s))
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", s)
	}
	if cpus.Sign() < 0 {
		return errors.New("must not be negative")
	}
	nano := cpus.Mul(cpus, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return errors.New("value is too precise")
	}
	if !nano.Num().IsInt64() {
		return errors.New("value is too large")
	}
	*n = nanoCPUs(nano.Num().Int64())
	return nil
}

// memBytes is an amount of memory such as "512m" or "1g" (--limit-memory).
type memBytes int64

func (*memBytes) Type() string { return "bytes" }

func (m *memBytes) String() string {
	if *m == 0 {
		return "0"
	}
	return units.BytesSize(float64(*m))
}

func (m *memBytes) Set(s string) error {
	v, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	if v < 0 {
		return errors.New("must not be negative")
	}
	*m = memBytes(v)
	return nil
}

// listOpt is a repeatable string flag whose values are each checked (and possibly
// completed) by validate.
type listOpt struct {
	values   []string
	validate func(string) (string, error)
}

func newListOpt(validate func(string) (string, error)) *listOpt {
	return &listOpt{validate: validate}
}

func (*listOpt) Type() string { return "list" }

func (l *listOpt) String() string {
	if len(l.values) == 0 {
		return ""
	}
	return fmt.Sprintf("%v", l.values)
}

func (l *listOpt) Set(s string) error {
	if l.validate != nil {
		v, err := l.validate(s)
		if err != nil {
			return err
		}
		s = v
	}
	l.values = append(l.values, s)
	return nil
}

// Values are the values given, in order.
func (l *listOpt) Values() []string { return l.values }

// shlexOpt is a command line split into words as a shell would (--entrypoint, --args).
type shlexOpt []string

func (*shlexOpt) Type() string { return "command" }

func (s *shlexOpt) String() string {
	if len(*s) == 0 {
		return ""
	}
	return fmt.Sprint([]string(*s))
}

func (s *shlexOpt) Set(value string) error {
	words, err := splitShellWords(value)
	if err != nil {
		return err
	}
	*s = words
	return nil
}

// splitShellWords splits s into words the way a POSIX shell does, with single quotes,
// double quotes and backslash escapes, but no expansion.
func splitShellWords(s string) ([]string, error) {
	var (
		words   []string
		word    strings.Builder
		inWord  bool
		quote   rune // 0, '\'' or '"'
		escaped bool
	)
	for _, r := range s {
		switch {
		case escaped:
			word.WriteRune(r)
			escaped = false
		case quote == '\'':
			if r == '\'' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\\':
			escaped, inWord = true, true
		case quote == '"':
			if r == '"' {
				quote = 0
			} else {
				word.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if escaped {
		return nil, errors.New("EOF found after escape character")
	}
	if quote != 0 {
		return nil, errors.New("EOF found when expecting closing quote")
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

// tailValue is the number of log lines to show from the end: "all" or a number.
type tailValue struct {
	value *string
}

func (*tailValue) Type() string     { return "string" }
func (t *tailValue) String() string { return *t.value }

func (t *tailValue) Set(s string) error {
	if s != "all" {
		if _, err := parseUint(s); err != nil {
			return errors.New(`must be "all" or a whole number (0 or more)`)
		}
	}
	*t.value = s
	return nil
}
