package cli

import (
	"context"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/go-units"
	"github.com/moby/moby/api/types/image"
	"github.com/moby/moby/client"
	"github.com/spf13/cobra"
)

const (
	defaultImageTableFormat           = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
	defaultImageTableFormatWithDigest = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}"
)

var imageListHeader = map[string]string{
	"ID":           "IMAGE ID",
	"Repository":   "REPOSITORY",
	"Tag":          "TAG",
	"Digest":       "DIGEST",
	"CreatedSince": "CREATED",
	"CreatedAt":    "CREATED AT",
	"Size":         "SIZE",
	"Containers":   "CONTAINERS",
	"SharedSize":   "SHARED SIZE",
	"UniqueSize":   "UNIQUE SIZE",
}

type imageListOptions struct {
	quiet       bool
	all         bool
	noTrunc     bool
	showDigests bool
	format      string
	filter      filterFlag
}

func newImageListCommand(g *Globals) *cobra.Command {
	opts := imageListOptions{filter: newFilterFlag()}
	cmd := &cobra.Command{
		Use:     "ls [OPTIONS] [REPOSITORY[:TAG]]",
		Aliases: []string{"list"},
		Short:   "List images",
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageError(cmd, "requires at most 1 argument")
			}
			if len(args) == 1 {
				opts.filter.Value().Add("reference", args[0])
			}
			return runImageList(cmd.Context(), g, &opts)
		},
		DisableFlagsInUseLine: true,
	}
	flags := cmd.Flags()
	flags.BoolVarP(&opts.quiet, flagQuiet, "q", false, "Only show image IDs")
	flags.BoolVarP(&opts.all, "all", "a", false, "Show all images (default hides intermediate and dangling images)")
	flags.BoolVar(&opts.noTrunc, "no-trunc", false, "Don't truncate output")
	flags.BoolVar(&opts.showDigests, "digests", false, "Show digests")
	flags.StringVar(&opts.format, "format", "", listFormatHelp)
	flags.VarP(&opts.filter, "filter", "f", "Filter output based on conditions provided")
	return cmd
}

func runImageList(ctx context.Context, g *Globals, opts *imageListOptions) error {
	c, err := g.Client()
	if err != nil {
		return err
	}
	filters := opts.filter.Value()
	res, err := c.ImageList(ctx, client.ImageListOptions{All: opts.all, Filters: filters})
	if err != nil {
		return err
	}
	images := res.Items
	if dangling, ok := filters["dangling"]; !opts.all && (!ok || dangling["false"]) {
		kept := images[:0]
		for _, img := range images {
			if !isDanglingImage(img) {
				kept = append(kept, img)
			}
		}
		images = kept
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Created > images[j].Created })

	format := imageListFormat(opts.format, opts.quiet, opts.showDigests)
	withDigests := opts.showDigests || strings.Contains(format, "{{.Digest}}")
	var rows []any
	for _, img := range images {
		for _, row := range imageRows(img, withDigests, opts.showDigests) {
			row.trunc = !opts.noTrunc
			rows = append(rows, row)
		}
	}
	return writeList(g.Out, format, imageListHeader, rows)
}

// imageListFormat picks the template for `image ls`, as docker does.
func imageListFormat(format string, quiet, digests bool) string {
	switch format {
	case "", formatKeyTable:
		switch {
		case quiet:
			return quietFormat
		case digests:
			return defaultImageTableFormatWithDigest
		}
		return defaultImageTableFormat
	case formatKeyRaw:
		if quiet {
			return `image_id: {{.ID}}`
		}
		return "repository: {{ .Repository }}\ntag: {{.Tag}}\nimage_id: {{.ID}}\ncreated_at: {{.CreatedAt}}\nvirtual_size: {{.Size}}\n"
	}
	if isTableFormat(format) && digests && !strings.Contains(format, "{{.Digest}}") {
		format += "\t{{.Digest}}"
	}
	return format
}

func isDanglingImage(img image.Summary) bool {
	if len(img.RepoTags) == 0 && len(img.RepoDigests) == 0 {
		return true
	}
	return len(img.RepoTags) == 1 && img.RepoTags[0] == "<none>:<none>" &&
		len(img.RepoDigests) == 1 && img.RepoDigests[0] == "<none>@<none>"
}

// imageRows makes one row per repository and tag of img (a digest-only repository gets
// a row with tag <none>). withDigests pairs each tag with the repository's digests;
// digestRows lists digest-only repositories once per digest.
func imageRows(img image.Summary, withDigests, digestRows bool) []*imageRow {
	if isDanglingImage(img) {
		return []*imageRow{{img: img, repo: "<none>", tag: "<none>", digest: "<none>"}}
	}
	tags := map[string][]string{}
	digests := map[string][]string{}
	for _, ref := range img.RepoTags {
		if repo, tag, ok := splitImageTag(ref); ok {
			tags[repo] = append(tags[repo], tag)
		}
	}
	for _, ref := range img.RepoDigests {
		if repo, digest, ok := strings.Cut(ref, "@"); ok {
			repo = familiarImage(repo)
			digests[repo] = append(digests[repo], digest)
		}
	}
	var rows []*imageRow
	for _, repo := range sortedKeys(tags) {
		repoDigests := digests[repo]
		delete(digests, repo)
		for _, tag := range tags[repo] {
			if !withDigests || len(repoDigests) == 0 {
				rows = append(rows, &imageRow{img: img, repo: repo, tag: tag, digest: "<none>"})
				continue
			}
			for _, d := range repoDigests {
				rows = append(rows, &imageRow{img: img, repo: repo, tag: tag, digest: d})
			}
		}
	}
	for _, repo := range sortedKeys(digests) {
		if !digestRows {
			rows = append(rows, &imageRow{img: img, repo: repo, tag: "<none>"})
			continue
		}
		for _, d := range digests[repo] {
			rows = append(rows, &imageRow{img: img, repo: repo, tag: "<none>", digest: d})
		}
	}
	return rows
}

// splitImageTag splits "name:tag" (the name may hold a registry port) into the familiar
// name and the tag.
func splitImageTag(ref string) (repo, tag string, ok bool) {
	slash := strings.LastIndex(ref, "/")
	colon := strings.LastIndex(ref, ":")
	if colon <= slash {
		return "", "", false
	}
	return familiarImage(ref[:colon]), ref[colon+1:], true
}

func familiarImage(name string) string {
	for _, prefix := range []string{"docker.io/library/", "docker.io/"} {
		if rest, ok := strings.CutPrefix(name, prefix); ok && rest != "" {
			return rest
		}
	}
	return name
}

func sortedKeys(m map[string][]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// imageRow is one line of `image ls` as its templates see it.
type imageRow struct {
	img    image.Summary
	repo   string
	tag    string
	digest string
	trunc  bool
}

func (r *imageRow) MarshalJSON() ([]byte, error) { return marshalRow(r) }

func (r *imageRow) ID() string {
	if r.trunc {
		return truncateID(r.img.ID)
	}
	return r.img.ID
}

func (r *imageRow) Repository() string { return r.repo }
func (r *imageRow) Tag() string        { return r.tag }
func (r *imageRow) Digest() string     { return r.digest }

func (r *imageRow) CreatedSince() string {
	return units.HumanDuration(now().UTC().Sub(time.Unix(r.img.Created, 0))) + " ago"
}

func (r *imageRow) CreatedAt() string { return time.Unix(r.img.Created, 0).String() }

func (r *imageRow) Size() string { return units.HumanSizeWithPrecision(float64(r.img.Size), 3) }

func (r *imageRow) Containers() string {
	if r.img.Containers == -1 {
		return "N/A"
	}
	return strconv.FormatInt(r.img.Containers, 10)
}

func (r *imageRow) SharedSize() string {
	if r.img.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.img.SharedSize))
}

func (r *imageRow) UniqueSize() string {
	if r.img.Size == -1 || r.img.SharedSize == -1 {
		return "N/A"
	}
	return units.HumanSize(float64(r.img.Size - r.img.SharedSize))
}
