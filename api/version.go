package api

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/shoal/shoal/internal/apierr"
)

// Version is the Shoal version the server reports in its Server header. The build sets it
// with -ldflags "-X github.com/shoal/shoal/api.Version=..."; a caller may also assign it
// before NewHandler.
var Version = "dev"

// Default bounds of the API versions the server accepts, as the Docker daemon this API
// follows: 1.24 is the oldest version with the swarm endpoints in their current shape.
const (
	DefaultMinAPIVersion = "1.24"
	DefaultMaxAPIVersion = "1.56"
)

type apiVersionKey struct{}

// APIVersion is the API version the client asked for in the request's /vX.Y prefix, or the
// server's maximum when the path had none. Handlers use it where a response differs by version.
func APIVersion(ctx context.Context) string {
	v, _ := ctx.Value(apiVersionKey{}).(string)
	return v
}

func withAPIVersion(ctx context.Context, v string) context.Context {
	return context.WithValue(ctx, apiVersionKey{}, v)
}

// splitVersionPrefix takes "/v1.43/nodes" apart into "1.43" and "/nodes". A path without
// such a prefix comes back unchanged with ok false. As Docker's router, the version is any
// run of digits and dots; whether it is in range is checkAPIVersion's job.
func splitVersionPrefix(path string) (version, rest string, ok bool) {
	if !strings.HasPrefix(path, "/v") {
		return "", path, false
	}
	end := strings.IndexByte(path[2:], '/')
	if end < 0 {
		// "/v1.43" alone names no endpoint.
		return "", path, false
	}
	version = path[2 : 2+end]
	if version == "" || strings.Trim(version, "0123456789.") != "" {
		return "", path, false
	}
	return version, path[2+end:], true
}

// checkAPIVersion refuses a version outside [minVersion, maxVersion] with the messages the
// Docker daemon uses, so clients that recognise them keep doing so.
func checkAPIVersion(version, minVersion, maxVersion string) error {
	if compareAPIVersions(version, minVersion) < 0 {
		return apierr.Invalidf("client version %s is too old. Minimum supported API version is %s, please upgrade your client to a newer version", version, minVersion)
	}
	if compareAPIVersions(version, maxVersion) > 0 {
		return apierr.Invalidf("client version %s is too new. Maximum supported API version is %s", version, maxVersion)
	}
	return nil
}

// compareAPIVersions orders dotted versions field by field as integers ("1.9" < "1.24"),
// a missing or non-numeric field counting as 0, which is how Docker compares them.
func compareAPIVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(as), len(bs)); i++ {
		var x, y int
		if i < len(as) {
			x, _ = strconv.Atoi(as[i])
		}
		if i < len(bs) {
			y, _ = strconv.Atoi(bs[i])
		}
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
	}
	return 0
}

// validateVersionBound checks an Options bound is a plain dotted version, so a typo in the
// daemon's configuration fails at start rather than refusing every request.
func validateVersionBound(name, v string) error {
	if v == "" || strings.Trim(v, "0123456789.") != "" || strings.HasPrefix(v, ".") || strings.HasSuffix(v, ".") || strings.Contains(v, "..") {
		return fmt.Errorf("invalid %s %q: must be a dotted version such as 1.43", name, v)
	}
	return nil
}
