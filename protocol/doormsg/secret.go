package doormsg

import (
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// Door secret bcrypt costs storebox accepts (PROTOCOL §4). Below 4 the
// library refuses; above 14 one wrong password costs a core for seconds
// (cost 31: days), so two wrong guesses would stall every door whose
// password is not cached, and the daemon's stop.
const (
	MinBcryptCost = 4
	MaxBcryptCost = 14
)

// IsBcrypt reports whether a door secret is meant as a bcrypt hash
// ($2a$, $2b$ or $2y$); any other secret is compared as plain text.
func IsBcrypt(secret string) bool {
	return strings.HasPrefix(secret, "$2a$") || strings.HasPrefix(secret, "$2b$") || strings.HasPrefix(secret, "$2y$")
}

// CheckSecret reports a bcrypt-looking secret that is not a valid hash or
// whose cost is outside MinBcryptCost..MaxBcryptCost. The config file, the
// cloud's desired configuration and the broker all use it.
func CheckSecret(secret string) error {
	if !IsBcrypt(secret) {
		return nil
	}
	cost, err := bcrypt.Cost([]byte(secret))
	if err != nil {
		return fmt.Errorf("looks like a bcrypt hash but is not valid: %v", err)
	}
	if cost < MinBcryptCost || cost > MaxBcryptCost {
		return fmt.Errorf("bcrypt cost %d is outside %d..%d (make one with e.g. `htpasswd -nbBC 10 door SECRET`)", cost, MinBcryptCost, MaxBcryptCost)
	}
	return nil
}
