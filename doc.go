// Package shoal is the root of the Shoal module; the code lives in its packages (see
// README.md). This file exists so the repository-wide tests have a package to live in.
package shoal
