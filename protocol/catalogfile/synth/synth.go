// Package synth makes deterministic synthetic goods for benchmarks and for
// cmd/gencatalog: unique gids, valid EAN-13 barcodes, mixed Chinese and
// English names, some weighed goods, e-label MACs and RFID tags.
package synth

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/storebox/storebox/protocol/catalogfile"
	"github.com/storebox/storebox/protocol/goods"
)

var (
	brands = []string{"农夫山泉", "康师傅", "统一", "Coca-Cola", "Pepsi", "Nestlé", "伊利", "蒙牛", "旺旺", "Oreo", "青岛", "Heinz", "立白", "Colgate", "三只松鼠", "Lay's"}
	items  = []string{"矿泉水", "绿茶", "方便面", "Cola", "Orange Juice", "Yogurt", "牛奶", "饼干", "Crackers", "啤酒", "Ketchup", "洗衣液", "Toothpaste", "坚果", "Potato Chips", "雪饼"}
	sizes  = []string{"550ml", "330ml", "1.5L", "120g", "250ml", "500g", "6×330ml", "1kg", "90g", "100g", "2L", "400g"}
	cats   = []string{"饮料 Drinks", "零食 Snacks", "乳制品 Dairy", "日用品 Household", "方便食品 Instant", "Beer & Wine"}
	fresh  = []string{"苹果 富士", "香蕉 Bananas", "西红柿 Tomatoes", "土豆 Potatoes", "五花肉 Pork belly", "Carrots 胡萝卜", "葡萄 Grapes", "Onions 洋葱"}
	whs    = []string{"main", "backroom", "cold"}
)

// Goods returns the i-th synthetic goods (i ≥ 0) and its stock. The same i
// always gives the same goods; gids, barcodes, mac_ids and rfids never
// repeat for different i.
func Goods(i int) (goods.Goods, map[string]int64) {
	h := mix(uint64(i))
	g := goods.Goods{
		GID:  "G" + pad(i, 8),
		Unit: goods.UnitPieces,
	}
	code := "69" + pad(i, 10)
	d, _ := catalogfile.EAN13CheckDigit(code)
	g.Barcode = code + string(d)
	if h%10 == 0 {
		g.Unit = goods.UnitKg
		g.Name = fresh[(h>>8)%uint64(len(fresh))] + " #" + strconv.Itoa(i)
		g.Category = "生鲜 Fresh"
		g.Price = int64(200 + (h>>16)%6000) // per kg
	} else {
		g.Name = brands[(h>>8)%uint64(len(brands))] + " " + items[(h>>12)%uint64(len(items))] + " " + sizes[(h>>16)%uint64(len(sizes))]
		if h%7 == 0 {
			g.Name += `, "value pack"` // commas and quotes exercise CSV quoting
		}
		g.Category = cats[(h>>20)%uint64(len(cats))]
		g.Price = int64(100 + (h>>24)%20000)
	}
	if h%5 == 0 {
		n := uint64(i) + 1
		g.MacIDs = []string{fmt.Sprintf("A4:C1:38:%02X:%02X:%02X", byte(n>>16), byte(n>>8), byte(n))}
		if n >= 1<<24 {
			g.MacIDs[0] = fmt.Sprintf("A4:C2:%02X:%02X:%02X:%02X", byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
		}
	}
	if h%20 == 1 {
		g.RFIDs = []string{fmt.Sprintf("E28011606000%012X", uint64(i)*2), fmt.Sprintf("E28011606000%012X", uint64(i)*2+1)}
	}
	var stock map[string]int64
	if h%3 != 0 {
		qty := int64((h >> 32) % 500)
		if g.Unit == goods.UnitKg {
			qty *= 100 // grams
		}
		stock = map[string]int64{"main": qty}
		if h%4 == 0 {
			stock[whs[1+(h>>40)%2]] = int64((h >> 44) % 200)
		}
	}
	return g, stock
}

// WriteFile writes goods 0 to n-1 with their stock as a catalog file in
// format at path, for tests and benchmarks that import a large catalog.
func WriteFile(path string, format catalogfile.Format, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	cw := catalogfile.NewWriter(bw, format)
	for i := range n {
		g, stock := Goods(i)
		if err := cw.Write(g, stock); err != nil {
			f.Close()
			return err
		}
	}
	err = cw.Flush()
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

func pad(i, width int) string {
	s := strconv.Itoa(i)
	if len(s) < width {
		s = strings.Repeat("0", width-len(s)) + s
	}
	return s
}

// mix is splitmix64: cheap, deterministic, well spread.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
