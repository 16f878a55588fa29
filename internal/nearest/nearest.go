// Package nearest suggests the known name a misspelt one was meant to be
// ("admision" → "admission"), for errors that name an unknown key: the
// config file's check and the fleet's desired-configuration check share it
// so both say the same thing about the same typo.
package nearest

import "strings"

// Name returns the candidate closest to s by edit distance (insertions,
// deletions, substitutions and swaps of neighbours, case ignored), or ""
// when none is close enough to be a typo: at most one edit for names up to
// four letters, about one edit per three letters above that. Ties go to
// the earlier candidate.
func Name(s string, candidates []string) string {
	s = strings.ToLower(s)
	limit := max(1, len([]rune(s))/3)
	best, bestD := "", limit+1
	for _, c := range candidates {
		if d := distance(s, strings.ToLower(c)); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

// distance is the optimal-string-alignment distance between a and b.
func distance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	// Three rows: the one before the previous is needed for swaps.
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
