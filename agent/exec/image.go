package exec

import "github.com/moby/moby/api/types/container"

// Image is what a runtime needs of an image: the defaults its config gives a container and
// the unpacked layer directories to stack as the container's root filesystem.
type Image struct {
	ID     string // content address, e.g. sha256:...
	Config ImageConfig
	// LayerDirs are the unpacked layers, top-most first (the order overlayfs's lowerdir
	// wants). Every entry is an absolute path.
	LayerDirs []string
}

// ImageConfig is the part of an image's config (OCI or docker) that shapes a container.
type ImageConfig struct {
	Env         []string
	Entrypoint  []string
	Cmd         []string
	WorkingDir  string
	User        string
	StopSignal  string
	Healthcheck *container.HealthConfig
}

// ImageGetter finds images by reference (name[:tag], name@digest or ID). An error from it is
// reported as the task's error as it is, so a missing image should read
// "No such image: REF" as docker's does.
type ImageGetter interface {
	Image(ref string) (Image, error)
}
