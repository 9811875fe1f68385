package lb

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/shoal/shoal/internal/clock"
)

// ErrDrainTimeout is wrapped by the error WaitDrained returns when its bounded wait ran out
// before every backend drained.
var ErrDrainTimeout = errors.New("backend still has work in flight")

// WaitDrained waits until every channel in drained is closed (each as returned by Drain), or
// timeout passes on clk, or ctx ends, whichever comes first. It returns nil once all drained; an
// error wrapping ErrDrainTimeout when the bounded wait ran out (promise 2 lets the stop go ahead
// then); or ctx's error. A timeout of 0 or less checks once without waiting.
//
// One task is usually a backend of several balancers on a node (each published port and VIP
// port), so WaitDrained takes all their channels and waits once for the lot.
func WaitDrained(ctx context.Context, clk clock.Clock, timeout time.Duration, drained ...<-chan struct{}) error {
	var deadline <-chan time.Time
	if timeout > 0 {
		deadline = clk.After(timeout)
	}
	for i, ch := range drained {
		if timeout <= 0 {
			select {
			case <-ch:
				continue
			default:
				return fmt.Errorf("%d of %d backends: %w", len(drained)-i, len(drained), ErrDrainTimeout)
			}
		}
		select {
		case <-ch:
		case <-deadline:
			return fmt.Errorf("%d of %d backends after %v: %w", pending(drained[i:]), len(drained), timeout, ErrDrainTimeout)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// pending counts the channels not closed yet.
func pending(chs []<-chan struct{}) int {
	n := 0
	for _, ch := range chs {
		select {
		case <-ch:
		default:
			n++
		}
	}
	return n
}

// DrainAndWait drains backend id and waits, at most timeout on the Balancer's clock, for its
// in-flight work to finish. See Drain and WaitDrained.
func (b *Balancer) DrainAndWait(ctx context.Context, id string, timeout time.Duration) error {
	if err := WaitDrained(ctx, b.clk, timeout, b.Drain(id)); err != nil {
		return fmt.Errorf("lb %s: drain %s: %w", b.Addr(), id, err)
	}
	return nil
}
