package orders

import "fmt"

func fmtLines(short []string) string {
	if len(short) == 1 {
		return short[0]
	}
	return fmt.Sprint(short)
}
