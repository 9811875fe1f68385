package lab

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/swarm"
	"github.com/moby/moby/client"
)

// managerPort is where every node listens for the cluster and managers are reached.
const managerPort = 2377

// swarmStepTimeout bounds one init or join: a join waits for the node's certificate and, for
// a manager, for Raft to take it in.
const swarmStepTimeout = 2 * time.Minute

func clusterAddr(n Node) string { return net.JoinHostPort(n.Addr.String(), strconv.Itoa(managerPort)) }

// formSwarm initializes the cluster on the first manager and joins every other node to it,
// managers first, through each node's own API.
func formSwarm(ctx context.Context, st state, progress io.Writer) error {
	first := st.Nodes[0]
	fmt.Fprintf(progress, "initializing swarm on %s ... ", first.Name)
	tokens, err := initSwarm(ctx, st, first)
	if err != nil {
		fmt.Fprintln(progress, "failed")
		return fmt.Errorf("swarm init on %s: %w", first.Name, err)
	}
	fmt.Fprintln(progress, "ok")
	for _, n := range st.Nodes[1:] {
		token := tokens.Worker
		if n.Role == RoleManager {
			token = tokens.Manager
		}
		fmt.Fprintf(progress, "joining %s ... ", n.Name)
		if err := joinSwarm(ctx, n, token, clusterAddr(first)); err != nil {
			fmt.Fprintln(progress, "failed")
			return fmt.Errorf("swarm join of %s (%s): %w\nend of %s:\n%s", n.Name, n.Role, err, n.Log, logTail(n.Log, 20))
		}
		fmt.Fprintln(progress, "ok")
	}
	return nil
}

func nodeClient(n Node) (*client.Client, error) {
	return client.New(client.WithHost(n.Host()), client.WithAPIVersionNegotiation())
}

func initSwarm(ctx context.Context, st state, n Node) (swarm.JoinTokens, error) {
	c, err := nodeClient(n)
	if err != nil {
		return swarm.JoinTokens{}, err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, swarmStepTimeout)
	defer cancel()
	var spec swarm.Spec
	spec.Dispatcher.HeartbeatPeriod = time.Duration(st.DispatcherHeartbeat)
	spec.CAConfig.NodeCertExpiry = time.Duration(st.CertExpiry)
	if _, err := c.SwarmInit(ctx, client.SwarmInitOptions{
		ListenAddr:    net.JoinHostPort("0.0.0.0", strconv.Itoa(managerPort)),
		AdvertiseAddr: clusterAddr(n),
		Spec:          spec,
	}); err != nil {
		return swarm.JoinTokens{}, err
	}
	res, err := c.SwarmInspect(ctx, client.SwarmInspectOptions{})
	if err != nil {
		return swarm.JoinTokens{}, fmt.Errorf("read join tokens: %w", err)
	}
	return res.Swarm.JoinTokens, nil
}

func joinSwarm(ctx context.Context, n Node, token, remote string) error {
	c, err := nodeClient(n)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, swarmStepTimeout)
	defer cancel()
	_, err = c.SwarmJoin(ctx, client.SwarmJoinOptions{
		ListenAddr:    net.JoinHostPort("0.0.0.0", strconv.Itoa(managerPort)),
		AdvertiseAddr: clusterAddr(n),
		RemoteAddrs:   []string{remote},
		JoinToken:     token,
	})
	return err
}
