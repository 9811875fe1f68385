package cli

import (
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/api/types/swarm"
)

// portLongSyntax tells the long -p syntax (published=8080,target=80) from the short one
// (8080:80), as docker does.
var portLongSyntax = regexp.MustCompile(`\w+=\w+(,\w+=\w+)*`)

// portOpt is a repeatable -p/--publish: "published=8080,target=80,protocol=tcp,mode=ingress"
// or "[published:]target[/protocol]", where both ports may be equally long ranges.
type portOpt struct {
	ports []swarm.PortConfig
}

func (*portOpt) Type() string { return "port" }

func (p *portOpt) String() string {
	parts := make([]string, len(p.ports))
	for i, port := range p.ports {
		parts[i] = portConfigString(port)
	}
	return strings.Join(parts, ", ")
}

// Value is the ports given, in order.
func (p *portOpt) Value() []swarm.PortConfig { return p.ports }

func (p *portOpt) Set(value string) error {
	var (
		ports []swarm.PortConfig
		err   error
	)
	if portLongSyntax.MatchString(value) {
		var port swarm.PortConfig
		port, err = parsePortLong(value)
		ports = []swarm.PortConfig{port}
	} else {
		ports, err = parsePortShort(value)
	}
	if err != nil {
		return err
	}
	p.ports = append(p.ports, ports...)
	return nil
}

// portConfigString identifies a port for docker's publish add/remove logic.
func portConfigString(p swarm.PortConfig) string {
	return fmt.Sprintf("%v:%v/%s/%s", p.PublishedPort, p.TargetPort, p.Protocol, p.PublishMode)
}

func parsePortLong(value string) (swarm.PortConfig, error) {
	port := swarm.PortConfig{Protocol: network.TCP, PublishMode: swarm.PortConfigPublishModeIngress}
	fields, err := csv.NewReader(strings.NewReader(value)).Read()
	if err != nil {
		return port, err
	}
	for _, field := range fields {
		key, val, ok := strings.Cut(strings.ToLower(field), "=")
		if !ok || key == "" {
			return port, fmt.Errorf("invalid field: %s", field)
		}
		switch key {
		case "protocol":
			proto, err := parsePortProtocol(val)
			if err != nil {
				return port, err
			}
			port.Protocol = proto
		case "mode":
			switch mode := swarm.PortConfigPublishMode(val); mode {
			case swarm.PortConfigPublishModeIngress, swarm.PortConfigPublishModeHost:
				port.PublishMode = mode
			default:
				return port, fmt.Errorf("invalid publish mode value (%s): must be either 'ingress' or 'host'", val)
			}
		case "target":
			n, err := parsePortNumber(val)
			if err != nil {
				return port, fmt.Errorf("invalid target port (%s): %w", val, err)
			}
			port.TargetPort = n
		case "published":
			n, err := parsePortNumber(val)
			if err != nil {
				return port, fmt.Errorf("invalid published port (%s): %w", val, err)
			}
			port.PublishedPort = n
		default:
			return port, fmt.Errorf("invalid field key: %s (want published, target, protocol or mode)", key)
		}
	}
	if port.TargetPort == 0 {
		return port, errors.New("missing mandatory field 'target'")
	}
	return port, nil
}

func parsePortShort(value string) ([]swarm.PortConfig, error) {
	spec, protoText, hasProto := strings.Cut(value, "/")
	proto := network.TCP
	if hasProto {
		var err error
		if proto, err = parsePortProtocol(protoText); err != nil {
			return nil, err
		}
	}
	parts := strings.Split(spec, ":")
	var publishedText, targetText string
	switch len(parts) {
	case 1:
		targetText = parts[0]
	case 2:
		publishedText, targetText = parts[0], parts[1]
	case 3:
		return nil, errors.New("hostip is not supported")
	default:
		return nil, fmt.Errorf("invalid port format %q: want [published:]target[/protocol]", value)
	}

	targetFirst, targetLast, err := parsePortRange(targetText)
	if err != nil {
		return nil, fmt.Errorf("invalid target port (%s): %w", targetText, err)
	}
	var pubFirst, pubLast uint32
	if publishedText != "" {
		if pubFirst, pubLast, err = parsePortRange(publishedText); err != nil {
			return nil, fmt.Errorf("invalid published port (%s): %w", publishedText, err)
		}
	}

	targets := targetLast - targetFirst + 1
	published := pubLast - pubFirst + 1
	var ports []swarm.PortConfig
	add := func(pub, target uint32) {
		ports = append(ports, swarm.PortConfig{
			Protocol: proto, TargetPort: target, PublishedPort: pub, PublishMode: swarm.PortConfigPublishModeIngress,
		})
	}
	switch {
	case publishedText == "":
		for t := targetFirst; t <= targetLast; t++ {
			add(0, t)
		}
	case targets == published:
		for i := range targets {
			add(pubFirst+i, targetFirst+i)
		}
	case targets == 1:
		for pub := pubFirst; pub <= pubLast; pub++ {
			add(pub, targetFirst)
		}
	default:
		return nil, fmt.Errorf("invalid ranges in %q: published and target ranges must be the same length", value)
	}
	return ports, nil
}

func parsePortProtocol(value string) (network.IPProtocol, error) {
	switch proto := network.IPProtocol(strings.ToLower(value)); proto {
	case network.TCP, network.UDP, network.SCTP:
		return proto, nil
	}
	return "", fmt.Errorf("invalid protocol value '%s': must be tcp, udp or sctp", value)
}

// parsePortNumber reads a port, 1 to 65535.
func parsePortNumber(value string) (uint32, error) {
	n, err := strconv.ParseUint(value, 10, 16)
	if err != nil || n == 0 {
		return 0, errors.New("must be a number from 1 to 65535")
	}
	return uint32(n), nil
}

// parsePortRange reads "80" or "8080-8090".
func parsePortRange(value string) (first, last uint32, err error) {
	firstText, lastText, isRange := strings.Cut(value, "-")
	if first, err = parsePortNumber(firstText); err != nil {
		return 0, 0, err
	}
	if !isRange {
		return first, first, nil
	}
	if last, err = parsePortNumber(lastText); err != nil {
		return 0, 0, err
	}
	if last < first {
		return 0, 0, errors.New("the range ends before it starts")
	}
	return first, last, nil
}
