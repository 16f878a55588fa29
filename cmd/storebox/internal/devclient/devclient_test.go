package devclient

import (
	"reflect"
	"strings"
	"testing"
)

func TestBody(t *testing.T) {
	got, err := Body([]string{"code=6921168509256", "lmt:=5", `lines:=[{"gid":"1"}]`, "a=b:=c"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"code": "6921168509256", "lmt": float64(5), "lines": []any{map[string]any{"gid": "1"}}, "a": "b:=c"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Body = %#v, want %#v", got, want)
	}
	if _, err := Body([]string{"n:=nope"}); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Fatalf("bad JSON: %v", err)
	}
	if _, err := Body([]string{"plain"}); err == nil || !strings.Contains(err.Error(), "neither") {
		t.Fatalf("no separator: %v", err)
	}
}
