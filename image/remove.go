package image

import (
	"fmt"
	"os"
	"path/filepath"

	imagetypes "github.com/moby/moby/api/types/image"
	"github.com/opencontainers/go-digest"

	"github.com/shoal/shoal/internal/apierr"
)

// InUseFunc tells Remove whether something still needs an image: it returns who (such as
// "running container 3f2a1c"), or "" when nothing does. It runs without the store's read
// locks, so it may call Resolve or List, but not Import, Load, Tag or Remove.
type InUseFunc func(id digest.Digest) string

// Tag points the tag target ("repo[:tag]") at the image source names (see Resolve),
// moving it off any image that held it.
func (s *Store) Tag(source, target string) error {
	tag, err := NormalizeTag(target)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	l, err := s.lookupLocked(source)
	if err != nil {
		return err
	}
	s.moveTagLocked(tag, l.rec)
	return s.writeIndexLocked()
}

// Remove removes the image ref names, as `docker rmi` does:
//
//   - By tag, it untags; the image goes when that was its last tag.
//   - By ID or digest, it untags every tag and removes the image; an image with several
//     tags needs force.
//
// Layers no remaining image uses are deleted. When inUse is given and says the image is
// in use, removing its last tag needs force and then only untags; removing it by ID is
// refused even with force. The result lists what was untagged and deleted, in docker's form.
func (s *Store) Remove(ref string, force bool, inUse InUseFunc) ([]imagetypes.DeleteResponse, error) {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	// Only writers change the store, and we hold writeMu, so what we find stays true
	// while inUse runs without mu.
	s.mu.RLock()
	l, err := s.lookupLocked(ref)
	s.mu.RUnlock()
	if err != nil {
		return nil, err
	}
	rec, short := l.rec, shortID(l.rec.id)
	user := ""
	if inUse != nil {
		user = inUse(rec.id)
	}

	s.mu.Lock()
	var resp []imagetypes.DeleteResponse
	var deleteImage bool
	if l.tag != "" {
		if len(rec.repoTags) == 1 && user != "" && !force {
			s.mu.Unlock()
			return nil, apierr.Conflictf("conflict: unable to remove repository reference %q (must force) - %s is using its referenced image %s", ref, user, short)
		}
		s.untagLocked(l.tag, rec)
		resp = append(resp, imagetypes.DeleteResponse{Untagged: l.tag})
		deleteImage = len(rec.repoTags) == 0 && user == ""
	} else {
		switch {
		case user != "":
			s.mu.Unlock()
			how := "must be forced"
			if force {
				how = "cannot be forced"
			}
			return nil, apierr.Conflictf("conflict: unable to delete %s (%s) - image is being used by %s", short, how, user)
		case len(rec.repoTags) > 1 && !force:
			s.mu.Unlock()
			return nil, apierr.Conflictf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short)
		}
		for _, t := range append([]string(nil), rec.repoTags...) {
			s.untagLocked(t, rec)
			resp = append(resp, imagetypes.DeleteResponse{Untagged: t})
		}
		deleteImage = true
	}
	var garbage []string
	if deleteImage {
		delete(s.images, rec.id)
		resp = append(resp, imagetypes.DeleteResponse{Deleted: rec.id.String()})
		for _, dir := range s.unusedLayersLocked() {
			resp = append(resp, imagetypes.DeleteResponse{Deleted: digest.SHA256.String() + ":" + filepath.Base(dir)})
			garbage = append(garbage, dir)
		}
	}
	err = s.writeIndexLocked()
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if deleteImage {
		if err := os.Remove(s.configPath(rec.id)); err != nil && !os.IsNotExist(err) {
			return resp, fmt.Errorf("image store: %w", err)
		}
	}
	return resp, s.deleteLayerDirs(garbage)
}

// deleteLayerDirs deletes layer directories that are no longer in the store's maps. Each is
// first renamed into tmp/, so a half-deleted layer is never found under its digest.
func (s *Store) deleteLayerDirs(dirs []string) error {
	for _, dir := range dirs {
		trash, err := os.MkdirTemp(s.tmpDir(), "gc-")
		if err != nil {
			return err
		}
		if err := os.Rename(dir, filepath.Join(trash, "layer")); err != nil {
			return fmt.Errorf("image store: %w", err)
		}
		if err := os.RemoveAll(trash); err != nil {
			return fmt.Errorf("image store: %w", err)
		}
	}
	return nil
}

// shortID is the 12-hex-digit form docker prints.
func shortID(id digest.Digest) string {
	return id.Encoded()[:12]
}
