// Package ids makes object IDs in Docker's swarm form: 25 lowercase base-36 characters
// from 128 random bits.
package ids

import (
	"crypto/rand"
	"math/big"
	"strings"
)

// Len is the length of every ID.
const Len = 25

// New returns a fresh random ID.
func New() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	s := new(big.Int).SetBytes(b[:]).Text(36)
	return strings.Repeat("0", Len-len(s)) + s
}
