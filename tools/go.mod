// The developer tools the Makefile runs (make lint: staticcheck), pinned
// apart from storebox's own module so they never enter its build list, its
// binary or the .deb's copyright file. From the repository root:
// go tool -modfile=tools/go.mod staticcheck ./...
module github.com/storebox/storebox/tools

go 1.26.8

tool honnef.co/go/tools/cmd/staticcheck

require (
	github.com/BurntSushi/toml v1.4.1-0.20240526193622-a339e1f7089c // indirect
	golang.org/x/exp/typeparams v0.0.0-20231108232855-2478ac86f678 // indirect
	golang.org/x/mod v0.41.0 // indirect
	golang.org/x/sync v0.23.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
	honnef.co/go/tools v0.8.2 // indirect
)
