package catalogindex

import "testing"

// BenchmarkBuild1M is an index build from a million stored goods (the
// scan of bbolt not included).
func BenchmarkBuild1M(b *testing.B) {
	const n = 1_000_000
	raws := make([][]byte, n)
	gids := make([][]byte, n)
	for i := range n {
		raws[i], gids[i], _, _ = storedJSON(i)
	}
	var st Stats
	for b.Loop() {
		ix := New(func(bl *Builder) error {
			for i := range n {
				bl.Goods(gids[i], raws[i], 1)
			}
			return nil
		}, nil)
		ix.Rebuild()
		ix.WaitReady()
		st = ix.Stats()
		ix.d.free()
	}
	b.ReportMetric(float64(st.MappedBytes())/n, "mapped-B/goods")
	b.ReportMetric(float64(st.ArenaMapped)/n, "arena-B/goods")
	b.ReportMetric(float64(st.RowsMapped)/n, "rows-B/goods")
	b.ReportMetric(float64(st.TablesMapped)/n, "tables-B/goods")
	b.ReportMetric(float64(st.NamesMapped)/n, "names-B/goods")
}
