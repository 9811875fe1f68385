// Command shoal is the single Shoal binary: the node daemon and every client command.
package main

import (
	"os"

	"github.com/shoal/shoal/cli"
)

func main() {
	os.Exit(cli.Execute(os.Args[1:]))
}
