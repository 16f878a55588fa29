package qpay

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits on request fields set by the bank.
const (
	MaxOrderNo  = 50
	MaxPrdtName = 60
)

// ValidateOrderNo checks an OrderNo against the bank's rules: 1..50
// characters, none of ' " %.
func ValidateOrderNo(s string) error {
	if s == "" {
		return errors.New("qpay: order number is empty")
	}
	if utf8.RuneCountInString(s) > MaxOrderNo {
		return fmt.Errorf("qpay: order number %q is longer than %d characters", s, MaxOrderNo)
	}
	if strings.ContainsAny(s, `'"%`) {
		return fmt.Errorf("qpay: order number %q holds one of ' \" %%", s)
	}
	return nil
}

// ValidatePrdtName checks a product name: 1..60 characters.
func ValidatePrdtName(s string) error {
	if s == "" {
		return errors.New("qpay: product name is empty")
	}
	if !utf8.ValidString(s) {
		return errors.New("qpay: product name is not UTF-8")
	}
	if n := utf8.RuneCountInString(s); n > MaxPrdtName {
		return fmt.Errorf("qpay: product name is %d characters, at most %d", n, MaxPrdtName)
	}
	return nil
}

// Amount is an amount in minor units (TWD×100). The bank writes it as a
// JSON number in some replies and as a string in others; both decode, and
// anything that is not a plain non-negative integer is an error, never a
// guess.
type Amount int64

// UnmarshalJSON accepts 50000 and "50000".
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return fmt.Errorf("qpay amount: %w", err)
		}
		s = strings.TrimSpace(s)
	}
	v, err := ParseAmount(s)
	if err != nil {
		return err
	}
	*a = Amount(v)
	return nil
}

// ParseAmount parses a decimal integer amount in minor units: digits only,
// no sign, no fraction, no exponent.
func ParseAmount(s string) (int64, error) {
	if s == "" || len(s) > 18 {
		return 0, fmt.Errorf("qpay amount: %q is not an integer amount", s)
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("qpay amount: %q is not an integer amount", s)
		}
	}
	return strconv.ParseInt(s, 10, 64)
}

// ATMParam is the OrderCreate request part for ATM (virtual account) orders.
type ATMParam struct {
	ExpireDate string `json:"ExpireDate,omitempty"` // yyyyMMdd
}

// CardParam is the OrderCreate request part for card orders.
type CardParam struct {
	AutoBilling string `json:"AutoBilling,omitempty"` // "Y" | "N"
	ExpMinutes  int    `json:"ExpMinutes,omitempty"`
}

// OrderCreateRequest is the inner message of OrderCreate.
type OrderCreateRequest struct {
	ShopNo     string     `json:"ShopNo"`
	OrderNo    string     `json:"OrderNo"`
	Amount     int64      `json:"Amount,omitempty"`
	CurrencyID string     `json:"CurrencyID,omitempty"`
	PayType    string     `json:"PayType"`
	PrdtName   string     `json:"PrdtName,omitempty"`
	ReturnURL  string     `json:"ReturnURL,omitempty"`
	BackendURL string     `json:"BackendURL,omitempty"`
	Memo       string     `json:"Memo,omitempty"`
	Param1     string     `json:"Param1,omitempty"`
	Param2     string     `json:"Param2,omitempty"`
	Param3     string     `json:"Param3,omitempty"`
	ATMParam   *ATMParam  `json:"ATMParam,omitempty"`
	CardParam  *CardParam `json:"CardParam,omitempty"`
}

// Validate checks the fields the bank constrains.
func (r OrderCreateRequest) Validate() error {
	if err := ValidateOrderNo(r.OrderNo); err != nil {
		return err
	}
	if err := ValidatePrdtName(r.PrdtName); err != nil {
		return err
	}
	if r.Amount <= 0 {
		return fmt.Errorf("qpay: amount %d must be positive", r.Amount)
	}
	switch r.PayType {
	case PayTypeATM, PayTypeCard:
	default:
		return fmt.Errorf("qpay: pay type %q is not A (ATM) or C (card)", r.PayType)
	}
	return nil
}

// ATMResult is the ATM part of an OrderCreate reply.
type ATMResult struct {
	AtmPayNo  string `json:"AtmPayNo,omitempty"`
	WebAtmURL string `json:"WebAtmURL,omitempty"`
	OtpURL    string `json:"OtpURL,omitempty"`
}

// CardResult is the card part of an OrderCreate reply.
type CardResult struct {
	CardPayURL string `json:"CardPayURL,omitempty"`
}

// OrderCreateReply is the inner message of an OrderCreate reply.
type OrderCreateReply struct {
	ShopNo      string      `json:"ShopNo,omitempty"`
	OrderNo     string      `json:"OrderNo,omitempty"`
	Amount      Amount      `json:"Amount,omitempty"`
	TSNo        string      `json:"TSNo,omitempty"`
	PayType     string      `json:"PayType,omitempty"`
	Status      string      `json:"Status"`
	Description string      `json:"Description,omitempty"`
	ATMParam    *ATMResult  `json:"ATMParam,omitempty"`
	CardParam   *CardResult `json:"CardParam,omitempty"`
}

// OrderQueryRequest is the inner message of OrderQuery. With OrderNo set
// the date ranges may be left out.
type OrderQueryRequest struct {
	ShopNo         string `json:"ShopNo"`
	OrderNo        string `json:"OrderNo,omitempty"`
	PayType        string `json:"PayType,omitempty"`
	OrderDateTimeS string `json:"OrderDateTimeS,omitempty"`
	OrderDateTimeE string `json:"OrderDateTimeE,omitempty"`
	PayDateTimeS   string `json:"PayDateTimeS,omitempty"`
	PayDateTimeE   string `json:"PayDateTimeE,omitempty"`
	PayFlag        string `json:"PayFlag,omitempty"` // "A" all, "Y" paid, "N" unpaid
}

// OrderRecord is one order in an OrderQuery reply, and the
// TSResultContent of an OrderPayQuery reply.
type OrderRecord struct {
	TSNo        string `json:"TSNo,omitempty"`
	OrderNo     string `json:"OrderNo,omitempty"`
	ShopNo      string `json:"ShopNo,omitempty"`
	PayType     string `json:"PayType,omitempty"`
	Amount      Amount `json:"Amount,omitempty"`
	Status      string `json:"Status,omitempty"`
	Description string `json:"Description,omitempty"`
	Param1      string `json:"Param1,omitempty"`
	Param2      string `json:"Param2,omitempty"`
	Param3      string `json:"Param3,omitempty"`
	PayDate     string `json:"PayDate,omitempty"`
}

// OrderQueryReply is the inner message of an OrderQuery reply. Status
// only says whether the query itself worked.
type OrderQueryReply struct {
	ShopNo      string        `json:"ShopNo,omitempty"`
	Date        string        `json:"Date,omitempty"`
	Status      string        `json:"Status"`
	Description string        `json:"Description,omitempty"`
	OrderList   []OrderRecord `json:"OrderList,omitempty"`
}

// OrderPayQueryRequest is the inner message of OrderPayQuery.
type OrderPayQueryRequest struct {
	ShopNo   string `json:"ShopNo"`
	PayToken string `json:"PayToken"`
}

// OrderPayQueryReply is the inner message of an OrderPayQuery reply. Status
// only says whether the query itself worked; the payment's outcome is
// TSResultContent.Status.
type OrderPayQueryReply struct {
	ShopNo          string       `json:"ShopNo,omitempty"`
	PayToken        string       `json:"PayToken,omitempty"`
	Date            string       `json:"Date,omitempty"`
	Status          string       `json:"Status"`
	Description     string       `json:"Description,omitempty"`
	TSResultContent *OrderRecord `json:"TSResultContent,omitempty"`
}

// OrderMaintain commands.
const (
	MaintainCapture = "P"
	MaintainCancel  = "C"
	MaintainRefund  = "R"
)

// OrderMaintainRequest is the inner message of OrderMaintain.
type OrderMaintainRequest struct {
	ShopNo  string `json:"ShopNo"`
	OrderNo string `json:"OrderNo"`
	Command string `json:"Command"`
}

// OrderMaintainReply is the inner message of an OrderMaintain reply.
type OrderMaintainReply struct {
	ShopNo      string `json:"ShopNo,omitempty"`
	OrderNo     string `json:"OrderNo,omitempty"`
	Command     string `json:"Command,omitempty"`
	Status      string `json:"Status"`
	Description string `json:"Description,omitempty"`
}

// Notify is the unsigned body the bank POSTs to BackendURL after a payment.
// It carries no proof: act on it only by querying OrderPayQuery.
type Notify struct {
	ShopNo   string `json:"ShopNo"`
	PayToken string `json:"PayToken"`
}
