package raft

import (
	"context"
	"io"
	"log"
	"log/slog"
	"sync/atomic"

	"github.com/hashicorp/go-hclog"
)

// hcLogger presents an slog.Logger as the hclog.Logger that hashicorp/raft
// and its transports log through. Lines below its level (warn unless
// verbose) are dropped before they reach slog.
type hcLogger struct {
	slog    *slog.Logger
	name    string
	implied []any
	level   *atomic.Int32 // shared by loggers made with With and Named, as in hclog
}

// NewHCLogger adapts l for hashicorp libraries. Unless verbose, only warnings
// and errors pass: raft logs every election and heartbeat at info level. The
// daemon can hand the result to hraft.NetworkTransportConfig too.
func NewHCLogger(l *slog.Logger, verbose bool) hclog.Logger {
	if l == nil {
		l = slog.Default()
	}
	level := &atomic.Int32{}
	if verbose {
		level.Store(int32(hclog.Debug))
	} else {
		level.Store(int32(hclog.Warn))
	}
	return &hcLogger{slog: l, level: level}
}

func (h *hcLogger) Log(level hclog.Level, msg string, args ...any) {
	if level == hclog.Off || level < h.GetLevel() {
		return
	}
	sl := slogLevel(level)
	if !h.slog.Enabled(context.Background(), sl) {
		return
	}
	if h.name != "" {
		args = append([]any{"logger", h.name}, args...)
	}
	h.slog.Log(context.Background(), sl, msg, args...)
}

func slogLevel(l hclog.Level) slog.Level {
	switch {
	case l <= hclog.Debug:
		return slog.LevelDebug
	case l == hclog.Info:
		return slog.LevelInfo
	case l == hclog.Warn:
		return slog.LevelWarn
	default:
		return slog.LevelError
	}
}

func (h *hcLogger) Trace(msg string, args ...any) { h.Log(hclog.Trace, msg, args...) }
func (h *hcLogger) Debug(msg string, args ...any) { h.Log(hclog.Debug, msg, args...) }
func (h *hcLogger) Info(msg string, args ...any)  { h.Log(hclog.Info, msg, args...) }
func (h *hcLogger) Warn(msg string, args ...any)  { h.Log(hclog.Warn, msg, args...) }
func (h *hcLogger) Error(msg string, args ...any) { h.Log(hclog.Error, msg, args...) }

func (h *hcLogger) IsTrace() bool { return h.GetLevel() <= hclog.Trace }
func (h *hcLogger) IsDebug() bool { return h.GetLevel() <= hclog.Debug }
func (h *hcLogger) IsInfo() bool  { return h.GetLevel() <= hclog.Info }
func (h *hcLogger) IsWarn() bool  { return h.GetLevel() <= hclog.Warn }
func (h *hcLogger) IsError() bool { return h.GetLevel() <= hclog.Error }

func (h *hcLogger) ImpliedArgs() []any { return h.implied }

func (h *hcLogger) With(args ...any) hclog.Logger {
	c := *h
	c.slog = h.slog.With(args...)
	c.implied = append(append([]any(nil), h.implied...), args...)
	return &c
}

func (h *hcLogger) Name() string { return h.name }

func (h *hcLogger) Named(name string) hclog.Logger {
	if h.name != "" {
		name = h.name + "." + name
	}
	return h.ResetNamed(name)
}

func (h *hcLogger) ResetNamed(name string) hclog.Logger {
	c := *h
	c.name = name
	return &c
}

func (h *hcLogger) SetLevel(level hclog.Level) { h.level.Store(int32(level)) }
func (h *hcLogger) GetLevel() hclog.Level      { return hclog.Level(h.level.Load()) }

// StandardLogger serves libraries that want a *log.Logger; its lines go to
// slog at the options' forced level (info by default), or nowhere
// when that level is below this logger's.
func (h *hcLogger) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	level := slog.LevelInfo
	if opts != nil && opts.ForceLevel != hclog.NoLevel {
		level = slogLevel(opts.ForceLevel)
	}
	if level < slogLevel(h.GetLevel()) {
		return log.New(io.Discard, "", 0)
	}
	return slog.NewLogLogger(h.slog.Handler(), level)
}

func (h *hcLogger) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	return h.StandardLogger(opts).Writer()
}
