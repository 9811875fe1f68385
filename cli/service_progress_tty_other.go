//go:build !linux

package cli

import "os"

// terminalWidth is unknown (0) outside Linux: progress bars are drawn at full width.
func terminalWidth(*os.File) int { return 0 }
