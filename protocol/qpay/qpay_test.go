package qpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
)

// vectors is testdata/vectors.json, the bank's published samples (HashID,
// IV, encrypted message and Sign for known keys and nonces).
type vectors struct {
	HashID1 struct {
		A1, A2, B1, B2 string
		HashID         string `json:"hashid"`
	} `json:"hashid_1"`
	IV1 struct {
		Nonce string `json:"nonce"`
		IV    string `json:"iv"`
	} `json:"iv_1"`
	Sign1 struct {
		Nonce   string          `json:"nonce"`
		HashID  string          `json:"hashid"`
		Message json.RawMessage `json:"message"`
		Sign    string          `json:"sign"`
	} `json:"sign_1"`
	Response1 struct {
		A1, A2, B1, B2 string
		HashID         string                     `json:"hashid"`
		Nonce          string                     `json:"nonce"`
		MessageHex     string                     `json:"message_hex"`
		Sign           string                     `json:"sign"`
		Fields         map[string]json.RawMessage `json:"decrypts_to_fields"`
	} `json:"response_1"`
}

func loadVectors(t *testing.T) vectors {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v vectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestHashIDVector(t *testing.T) {
	v := loadVectors(t)
	got, err := HashID(v.HashID1.A1, v.HashID1.A2, v.HashID1.B1, v.HashID1.B2)
	if err != nil {
		t.Fatal(err)
	}
	if got != v.HashID1.HashID {
		t.Fatalf("HashID = %s, want %s", got, v.HashID1.HashID)
	}
	got, err = HashID(v.Response1.A1, v.Response1.A2, v.Response1.B1, v.Response1.B2)
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Response1.HashID {
		t.Fatalf("response HashID = %s, want %s", got, v.Response1.HashID)
	}
	// Lower-case keys derive the same HashID.
	lower, err := HashID(strings.ToLower(v.HashID1.A1), v.HashID1.A2, v.HashID1.B1, strings.ToLower(v.HashID1.B2))
	if err != nil || lower != v.HashID1.HashID {
		t.Fatalf("lower-case keys: %s, %v", lower, err)
	}
}

func TestHashIDRejectsBadKeys(t *testing.T) {
	for _, k := range [][4]string{
		{"", "5A4FEF83140C4E9E", "BC74301945134CB4", "961F67F8FCA44AB9"},
		{"4D9709D699CA40E", "5A4FEF83140C4E9E", "BC74301945134CB4", "961F67F8FCA44AB9"},
		{"4D9709D699CA40EE", "5A4FEF83140C4E9E", "BC74301945134CB4", "961F67F8FCA44AB9AA"},
		{"4D9709D699CA40EE", "ZZ4FEF83140C4E9E", "BC74301945134CB4", "961F67F8FCA44AB9"},
	} {
		if _, err := HashID(k[0], k[1], k[2], k[3]); err == nil {
			t.Errorf("HashID(%q) accepted bad keys", k)
		}
	}
}

func TestIVVector(t *testing.T) {
	v := loadVectors(t)
	if got := string(IV(v.IV1.Nonce)); got != v.IV1.IV {
		t.Fatalf("IV = %s, want %s", got, v.IV1.IV)
	}
}

func TestSignVector(t *testing.T) {
	v := loadVectors(t)
	got, err := Sign(v.Sign1.Message, v.Sign1.Nonce, v.Sign1.HashID)
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Sign1.Sign {
		t.Fatalf("Sign = %s, want %s", got, v.Sign1.Sign)
	}
	if err := Verify(v.Sign1.Message, strings.ToLower(v.Sign1.Sign), v.Sign1.Nonce, v.Sign1.HashID); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	// The same message built from our request type (nested objects
	// dropped, key order different) signs the same.
	req := OrderCreateRequest{
		ShopNo: "BA0026_001", OrderNo: "A201804270001", Amount: 50000, CurrencyID: "TWD", PayType: "A",
		PrdtName:   "虛擬帳號訂單",
		ReturnURL:  "http://10.11.22.113:8803/QPay.ApiClient/Store/Return",
		BackendURL: "http://10.11.22.113:8803/QPay.ApiClient/AutoPush/PushSuccess",
		ATMParam:   &ATMParam{ExpireDate: "20180502"},
	}
	msg, err := json.Marshal(req)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Sign(msg, v.Sign1.Nonce, v.Sign1.HashID); got != v.Sign1.Sign {
		t.Fatalf("Sign of OrderCreateRequest = %s, want %s (msg %s)", got, v.Sign1.Sign, msg)
	}
	// Any change to a signed field breaks it.
	req.Amount = 50001
	msg, _ = json.Marshal(req)
	if err := Verify(msg, v.Sign1.Sign, v.Sign1.Nonce, v.Sign1.HashID); !errors.Is(err, ErrBadSign) {
		t.Fatalf("Verify of altered message = %v, want ErrBadSign", err)
	}
	// A different nonce breaks it.
	if err := Verify(v.Sign1.Message, v.Sign1.Sign, v.IV1.Nonce+"x", v.Sign1.HashID); !errors.Is(err, ErrBadSign) {
		t.Fatalf("Verify with other nonce = %v, want ErrBadSign", err)
	}
}

func TestResponseVector(t *testing.T) {
	v := loadVectors(t)
	r := v.Response1
	msg, err := Decrypt(r.HashID, r.Nonce, r.MessageHex)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal(msg, &got); err != nil {
		t.Fatalf("decrypted message is not JSON: %v\n%s", err, msg)
	}
	for k, want := range r.Fields {
		if !bytes.Equal(bytes.TrimSpace(got[k]), want) {
			t.Errorf("field %s = %s, want %s", k, got[k], want)
		}
	}
	if err := Verify(msg, r.Sign, r.Nonce, r.HashID); err != nil {
		t.Fatalf("Verify response: %v\n%s", err, msg)
	}
	keys, err := NewKeys("NA0249_001", r.A1, r.A2, r.B1, r.B2)
	if err != nil {
		t.Fatal(err)
	}
	var reply OrderCreateReply
	env := Envelope{Version: Version, ShopNo: "NA0249_001", APIService: ServiceOrderCreate, Sign: r.Sign, Nonce: r.Nonce, Message: r.MessageHex}
	if err := keys.OpenInto(env, &reply); err != nil {
		t.Fatal(err)
	}
	if reply.OrderNo != "TEST20210922174825" || reply.Amount != 50000 || reply.Status != "S" || reply.TSNo != "NA024900000210" || reply.PayType != "A" {
		t.Fatalf("reply = %+v", reply)
	}
	if reply.ATMParam == nil || reply.ATMParam.AtmPayNo != "99922530174617" || !strings.HasPrefix(reply.ATMParam.WebAtmURL, "https://") {
		t.Fatalf("reply ATMParam = %+v", reply.ATMParam)
	}
	// A flipped sign, another nonce, or a flipped ciphertext byte is refused.
	bad := env
	bad.Sign = strings.Replace(env.Sign, "C", "D", 1)
	if _, err := keys.Open(bad); !errors.Is(err, ErrBadSign) {
		t.Fatalf("Open with bad sign = %v", err)
	}
	bad = env
	bad.Message = env.Message[:len(env.Message)-2] + "00"
	if _, err := keys.Open(bad); err == nil {
		t.Fatal("Open accepted altered ciphertext")
	}
	bad = env
	bad.ShopNo = "OTHER_001"
	if _, err := keys.Open(bad); err == nil {
		t.Fatal("Open accepted another shop's envelope")
	}
}

func TestSealOpenRoundTrip(t *testing.T) {
	v := loadVectors(t)
	keys, err := NewKeys("BA0026_001", v.HashID1.A1, v.HashID1.A2, v.HashID1.B1, v.HashID1.B2)
	if err != nil {
		t.Fatal(err)
	}
	for _, inner := range []any{
		OrderCreateRequest{ShopNo: "BA0026_001", OrderNo: "S1-0001", Amount: 12345, CurrencyID: "TWD", PayType: "C", PrdtName: "蘋果 x2", CardParam: &CardParam{AutoBilling: "Y", ExpMinutes: 10}},
		OrderPayQueryReply{ShopNo: "BA0026_001", Status: "S", TSResultContent: &OrderRecord{OrderNo: "S1-0001", Amount: 12345, Status: "S"}},
		OrderQueryRequest{ShopNo: "BA0026_001", OrderNo: "x", PayFlag: "A"},
		map[string]any{"ShopNo": "BA0026_001", "Long": strings.Repeat("é", 1000)},
	} {
		env, err := keys.Seal(ServiceOrderCreate, "nonce-"+strings.Repeat("n", 40), inner)
		if err != nil {
			t.Fatal(err)
		}
		if env.Message != strings.ToUpper(env.Message) || env.Sign != strings.ToUpper(env.Sign) || env.Version != Version {
			t.Fatalf("envelope not in the bank's form: %+v", env)
		}
		msg, err := keys.Open(env)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(inner)
		if !bytes.Equal(msg, want) {
			t.Fatalf("round trip:\n got %s\nwant %s", msg, want)
		}
	}
}

func TestVerifyZeroEitherWay(t *testing.T) {
	const nonce, hashID = "N", "17D8E6558DC60E702A6B57E1B9B7060D"
	msg := []byte(`{"ShopNo":"X","Amount":0,"Status":"S"}`)
	with := signOf(map[string]string{"ShopNo": "X", "Amount": "0", "Status": "S"}, nil, nonce, hashID)
	without := signOf(map[string]string{"ShopNo": "X", "Status": "S"}, nil, nonce, hashID)
	if err := Verify(msg, with, nonce, hashID); err != nil {
		t.Fatalf("with zero: %v", err)
	}
	if err := Verify(msg, without, nonce, hashID); err != nil {
		t.Fatalf("without zero: %v", err)
	}
	if err := Verify([]byte(`{"ShopNo":"X","Amount":1,"Status":"S"}`), without, nonce, hashID); !errors.Is(err, ErrBadSign) {
		t.Fatalf("non-zero amount dropped from sign: %v", err)
	}
}

func TestDecryptRejects(t *testing.T) {
	const hashID = "17D8E6558DC60E702A6B57E1B9B7060D"
	for _, m := range []string{"", "ZZ", "00", strings.Repeat("00", 15), strings.Repeat("00", 16)} {
		if _, err := Decrypt(hashID, "n", m); err == nil {
			t.Errorf("Decrypt(%q) accepted", m)
		}
	}
	if _, err := Decrypt("short", "n", strings.Repeat("00", 16)); err == nil {
		t.Error("Decrypt accepted a short hashid")
	}
}

func TestAmount(t *testing.T) {
	for in, want := range map[string]int64{`50000`: 50000, `"50000"`: 50000, `" 7 "`: 7, `0`: 0} {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err != nil || int64(a) != want {
			t.Errorf("Amount(%s) = %d, %v; want %d", in, a, err, want)
		}
	}
	for _, in := range []string{`"500.00"`, `500.5`, `-1`, `"-1"`, `"1e3"`, `1e3`, `""`, `"abc"`, `"+5"`, `true`, `"99999999999999999999"`} {
		var a Amount
		if err := json.Unmarshal([]byte(in), &a); err == nil {
			t.Errorf("Amount(%s) accepted as %d", in, a)
		}
	}
}

func TestValidate(t *testing.T) {
	ok := OrderCreateRequest{OrderNo: "S1-20260101-0001", PrdtName: "商品", Amount: 100, PayType: "A"}
	if err := ok.Validate(); err != nil {
		t.Fatal(err)
	}
	for name, mut := range map[string]func(*OrderCreateRequest){
		"quote":      func(r *OrderCreateRequest) { r.OrderNo = `a'b` },
		"dquote":     func(r *OrderCreateRequest) { r.OrderNo = `a"b` },
		"percent":    func(r *OrderCreateRequest) { r.OrderNo = `a%b` },
		"long order": func(r *OrderCreateRequest) { r.OrderNo = strings.Repeat("a", 51) },
		"no order":   func(r *OrderCreateRequest) { r.OrderNo = "" },
		"long name":  func(r *OrderCreateRequest) { r.PrdtName = strings.Repeat("貨", 61) },
		"no name":    func(r *OrderCreateRequest) { r.PrdtName = "" },
		"zero":       func(r *OrderCreateRequest) { r.Amount = 0 },
		"paytype":    func(r *OrderCreateRequest) { r.PayType = "X" },
	} {
		r := ok
		mut(&r)
		if err := r.Validate(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	r := ok
	r.OrderNo = strings.Repeat("a", 50)
	r.PrdtName = strings.Repeat("貨", 60)
	if err := r.Validate(); err != nil {
		t.Errorf("limits exactly: %v", err)
	}
}

func BenchmarkSealOpen(b *testing.B) {
	keys := Keys{ShopNo: "BA0026_001", HashID: "17D8E6558DC60E702A6B57E1B9B7060D"}
	reply := OrderPayQueryReply{ShopNo: "BA0026_001", Status: "S", Description: "S0000 – 處理成功",
		TSResultContent: &OrderRecord{TSNo: "BA002600000001", OrderNo: "S1-20261127-0001", Amount: 50000, Status: "S", PayType: "C"}}
	b.ReportAllocs()
	for b.Loop() {
		env, err := keys.Seal(ServiceOrderPayQuery, "NjM2NjA0MzI4ODIyODguMzo3NzI0ZDg4ZmI5Nzc2YzQ1MTNhYzg2MTk3NDBlYTRh", reply)
		if err != nil {
			b.Fatal(err)
		}
		var out OrderPayQueryReply
		if err := keys.OpenInto(env, &out); err != nil {
			b.Fatal(err)
		}
	}
}
