package image

import (
	"strings"

	"github.com/distribution/reference"
	"github.com/opencontainers/go-digest"

	"github.com/shoal/shoal/internal/apierr"
)

// NormalizeTag checks a "repo[:tag]" reference by docker's rules and returns its familiar
// form with the tag made explicit: "busybox" → "busybox:latest",
// "docker.io/library/sleepy:1" → "sleepy:1". Digest references cannot name a tag.
func NormalizeTag(ref string) (string, error) {
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", badInputf("invalid reference %q: %v", ref, err)
	}
	if _, ok := named.(reference.Digested); ok {
		return "", badInputf("invalid reference %q: a tag cannot contain a digest; use repo[:tag]", ref)
	}
	return reference.FamiliarString(reference.TagNameOnly(named)), nil
}

// repoName is the repository part of a familiar "name:tag".
func repoName(tag string) string {
	if named, err := reference.ParseNormalizedNamed(tag); err == nil {
		return reference.FamiliarName(named)
	}
	return tag
}

// lookup is how a reference was found: by one of its tags, or by content (ID or digest).
type lookup struct {
	rec *record
	tag string // the familiar "name:tag" it was found by; "" when found by ID or digest
}

// lookupLocked resolves ref as Resolve documents. The caller holds mu.
func (s *Store) lookupLocked(ref string) (lookup, error) {
	if hex, ok := strings.CutPrefix(ref, "sha256:"); ok {
		// An ID or ID prefix; never a name (docker refuses "sha256" as a repository).
		return s.lookupIDLocked(ref, hex)
	}
	if len(ref) == 64 && isHex(ref) {
		return s.lookupIDLocked(ref, ref)
	}
	if named, err := reference.ParseNormalizedNamed(ref); err == nil {
		if d, ok := named.(reference.Digested); ok {
			return s.lookupDigestLocked(ref, d.Digest())
		}
		tag := reference.FamiliarString(reference.TagNameOnly(named))
		if id, ok := s.tags[tag]; ok {
			return lookup{rec: s.images[id], tag: tag}, nil
		}
	}
	if isHex(ref) {
		return s.lookupIDLocked(ref, ref)
	}
	return lookup{}, notFound(ref)
}

// lookupIDLocked finds the one image whose ID's hex starts with prefix.
func (s *Store) lookupIDLocked(ref, prefix string) (lookup, error) {
	if prefix == "" || !isHex(prefix) {
		return lookup{}, notFound(ref)
	}
	var found *record
	for id, rec := range s.images {
		if strings.HasPrefix(id.Encoded(), prefix) {
			if found != nil {
				return lookup{}, badInputf("image ID prefix %q is ambiguous: more than one image matches; give more of the ID", ref)
			}
			found = rec
		}
	}
	if found == nil {
		return lookup{}, notFound(ref)
	}
	return lookup{rec: found}, nil
}

// lookupDigestLocked finds the image whose repo (manifest) digest, or ID, is d. The
// name in front of the digest does not have to match a tag: the content is what was asked
// for, as a registry pull by digest would give it.
func (s *Store) lookupDigestLocked(ref string, d digest.Digest) (lookup, error) {
	for _, rec := range s.images {
		if rec.manifest.Digest == d || rec.id == d {
			return lookup{rec: rec}, nil
		}
	}
	return lookup{}, notFound(ref)
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// notFound is the error for a missing image, worded as docker words it.
func notFound(ref string) error {
	return apierr.NotFoundf("No such image: %s", ref)
}

// badInputf reports input the caller must fix: a bad reference, change or archive.
func badInputf(format string, args ...any) error {
	return apierr.Invalidf(format, args...)
}
