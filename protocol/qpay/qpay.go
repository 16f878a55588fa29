// Package qpay is the wire format of SinoPac QPay (funBIZ): the outer
// envelope, the HashID derived from the shop's four keys, the AES-256-CBC
// message encryption, the Sign checksum and the inner messages of the
// services storebox uses (OrderCreate, OrderQuery, OrderPayQuery,
// OrderMaintain).
//
// It does no I/O. Seal builds a request or response envelope from an inner
// message; Open decrypts an envelope and verifies its Sign. Everything that
// comes out of Open has been checked against the shared keys; nothing else
// should be trusted.
//
// Facts (from the bank's funBIZ integration guide; testdata/vectors.json
// holds its published samples):
//   - HashID = HEX(A1⊕A2) + HEX(B1⊕B2), uppercase, 32 characters; its ASCII
//     bytes are the AES-256 key.
//   - IV = the last 16 characters of UPPER(HEX(SHA-256(nonce))) as ASCII.
//   - Message = UPPER(HEX(AES-256-CBC-PKCS#7(inner JSON))).
//   - Sign = UPPER(HEX(SHA-256(k=v&k=v… + nonce + HashID))) over the inner
//     message's top-level non-empty scalar fields sorted by key.
//
// Whether a numeric 0 takes part in Sign is unsettled (the bank's samples
// disagree), so requests built from this package's types never carry a zero
// scalar (every field is omitempty), and Verify accepts a response whose
// Sign matches either reading.
package qpay

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Version is the only envelope version the bank speaks.
const Version = "1.0.0"

// API service names.
const (
	ServiceOrderCreate   = "OrderCreate"
	ServiceOrderQuery    = "OrderQuery"
	ServiceOrderPayQuery = "OrderPayQuery"
	ServiceOrderMaintain = "OrderMaintain"
)

// Status values used by the bank in replies and transaction results.
const (
	StatusSuccess = "S"
	StatusFailure = "F"
)

// Pay types.
const (
	PayTypeATM  = "A"
	PayTypeCard = "C"
)

// Errors returned by Open, Decrypt and Verify. A caller must treat any of
// them as "nothing was learnt": the reply is not from the bank or was
// altered on the way.
var (
	ErrBadSign    = errors.New("qpay: sign mismatch")
	ErrBadMessage = errors.New("qpay: malformed message")
)

// Envelope is the outer JSON object of every POST {base}/Order, request and
// response alike.
type Envelope struct {
	Version    string `json:"Version"`
	ShopNo     string `json:"ShopNo"`
	APIService string `json:"APIService"`
	Sign       string `json:"Sign"`
	Nonce      string `json:"Nonce"`
	Message    string `json:"Message"`
}

// NonceRequest is the body of POST {base}/Nonce.
type NonceRequest struct {
	ShopNo string `json:"ShopNo"`
}

// NonceReply is the reply of POST {base}/Nonce.
type NonceReply struct {
	Nonce string `json:"Nonce"`
}

// HashID derives the 32-character HashID from the shop's four 16-hex-digit
// keys: HEX(A1⊕A2) + HEX(B1⊕B2), uppercase.
func HashID(a1, a2, b1, b2 string) (string, error) {
	a, err := xorHex("A1/A2", a1, a2)
	if err != nil {
		return "", err
	}
	b, err := xorHex("B1/B2", b1, b2)
	if err != nil {
		return "", err
	}
	return a + b, nil
}

func xorHex(name, x, y string) (string, error) {
	xb, err := hex.DecodeString(x)
	if err != nil || len(xb) != 8 {
		return "", fmt.Errorf("qpay hashid: %s: %q is not 16 hex digits", name, x)
	}
	yb, err := hex.DecodeString(y)
	if err != nil || len(yb) != 8 {
		return "", fmt.Errorf("qpay hashid: %s: %q is not 16 hex digits", name, y)
	}
	for i := range xb {
		xb[i] ^= yb[i]
	}
	return strings.ToUpper(hex.EncodeToString(xb)), nil
}

// IV returns the AES IV for a nonce: the last 16 characters of
// UPPER(HEX(SHA-256(nonce))), as ASCII bytes.
func IV(nonce string) []byte {
	sum := sha256.Sum256([]byte(nonce))
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	return []byte(h[len(h)-aes.BlockSize:])
}

func block(hashID string) (cipher.Block, error) {
	if len(hashID) != 32 {
		return nil, fmt.Errorf("qpay: hashid must be 32 characters, got %d", len(hashID))
	}
	return aes.NewCipher([]byte(hashID))
}

// Encrypt encrypts plaintext with AES-256-CBC/PKCS#7 under the HashID and
// the nonce's IV and returns the uppercase hex Message.
func Encrypt(hashID, nonce string, plaintext []byte) (string, error) {
	b, err := block(hashID)
	if err != nil {
		return "", err
	}
	pad := aes.BlockSize - len(plaintext)%aes.BlockSize
	buf := make([]byte, len(plaintext)+pad)
	copy(buf, plaintext)
	for i := len(plaintext); i < len(buf); i++ {
		buf[i] = byte(pad)
	}
	cipher.NewCBCEncrypter(b, IV(nonce)).CryptBlocks(buf, buf)
	return strings.ToUpper(hex.EncodeToString(buf)), nil
}

// Decrypt reverses Encrypt. Hex case is accepted either way.
func Decrypt(hashID, nonce, message string) ([]byte, error) {
	b, err := block(hashID)
	if err != nil {
		return nil, err
	}
	ct, err := hex.DecodeString(message)
	if err != nil {
		return nil, fmt.Errorf("%w: message is not hex", ErrBadMessage)
	}
	if len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
		return nil, fmt.Errorf("%w: ciphertext length %d is not a positive multiple of %d", ErrBadMessage, len(ct), aes.BlockSize)
	}
	cipher.NewCBCDecrypter(b, IV(nonce)).CryptBlocks(ct, ct)
	pad := int(ct[len(ct)-1])
	if pad == 0 || pad > aes.BlockSize {
		return nil, fmt.Errorf("%w: bad padding", ErrBadMessage)
	}
	for _, c := range ct[len(ct)-pad:] {
		if int(c) != pad {
			return nil, fmt.Errorf("%w: bad padding", ErrBadMessage)
		}
	}
	return ct[:len(ct)-pad], nil
}

// signFields returns the top-level scalar fields of a JSON object as raw
// strings, leaving out nulls, empty strings, objects and arrays. zero
// reports which keys hold a numeric zero.
func signFields(msg []byte) (fields map[string]string, zero map[string]bool, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(msg, &top); err != nil {
		return nil, nil, fmt.Errorf("%w: %v", ErrBadMessage, err)
	}
	if top == nil {
		return nil, nil, fmt.Errorf("%w: not a JSON object", ErrBadMessage)
	}
	fields = make(map[string]string, len(top))
	zero = map[string]bool{}
	for k, raw := range top {
		raw = bytes.TrimSpace(raw)
		if len(raw) == 0 {
			continue
		}
		switch raw[0] {
		case '{', '[', 'n':
			continue
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, nil, fmt.Errorf("%w: field %s: %v", ErrBadMessage, k, err)
			}
			if s == "" {
				continue
			}
			fields[k] = s
		case 't', 'f':
			fields[k] = string(raw)
		default:
			// A number: signed as written. PHP and .NET print integers
			// without exponent or fraction, which is what the bank sends.
			f, err := strconv.ParseFloat(string(raw), 64)
			if err != nil {
				return nil, nil, fmt.Errorf("%w: field %s: bad number %q", ErrBadMessage, k, raw)
			}
			if f == 0 {
				zero[k] = true
			}
			fields[k] = string(raw)
		}
	}
	return fields, zero, nil
}

func signOf(fields map[string]string, skip map[string]bool, nonce, hashID string) string {
	keys := make([]string, 0, len(fields))
	for k := range fields {
		if !skip[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(k)
		sb.WriteByte('=')
		sb.WriteString(fields[k])
	}
	sb.WriteString(nonce)
	sb.WriteString(hashID)
	sum := sha256.Sum256([]byte(sb.String()))
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// Sign computes the Sign of an inner JSON message. Numeric zeros are
// signed as written; messages built from this package never hold any.
func Sign(msg []byte, nonce, hashID string) (string, error) {
	fields, _, err := signFields(msg)
	if err != nil {
		return "", err
	}
	return signOf(fields, nil, nonce, hashID), nil
}

// Verify checks sign against the inner JSON message. A Sign computed with
// or without the message's numeric zeros is accepted, since the bank's own
// samples do both; either way it can only be made with the HashID.
func Verify(msg []byte, sign, nonce, hashID string) error {
	fields, zero, err := signFields(msg)
	if err != nil {
		return err
	}
	got := []byte(strings.ToUpper(sign))
	if subtle.ConstantTimeCompare(got, []byte(signOf(fields, nil, nonce, hashID))) == 1 {
		return nil
	}
	if len(zero) > 0 && subtle.ConstantTimeCompare(got, []byte(signOf(fields, zero, nonce, hashID))) == 1 {
		return nil
	}
	return ErrBadSign
}

// Keys holds what a shop needs to seal and open envelopes.
type Keys struct {
	ShopNo string
	HashID string
}

// NewKeys derives Keys from the shop number and its four keys.
func NewKeys(shopNo, a1, a2, b1, b2 string) (Keys, error) {
	h, err := HashID(a1, a2, b1, b2)
	if err != nil {
		return Keys{}, err
	}
	if shopNo == "" {
		return Keys{}, errors.New("qpay: shop number is empty")
	}
	return Keys{ShopNo: shopNo, HashID: h}, nil
}

// Seal marshals inner, signs and encrypts it into an envelope for service
// with the given nonce.
func (k Keys) Seal(service, nonce string, inner any) (Envelope, error) {
	msg, err := json.Marshal(inner)
	if err != nil {
		return Envelope{}, fmt.Errorf("qpay seal %s: %w", service, err)
	}
	return k.SealRaw(service, nonce, msg)
}

// SealRaw is Seal for an already encoded inner message.
func (k Keys) SealRaw(service, nonce string, msg []byte) (Envelope, error) {
	if nonce == "" {
		return Envelope{}, fmt.Errorf("qpay seal %s: empty nonce", service)
	}
	sign, err := Sign(msg, nonce, k.HashID)
	if err != nil {
		return Envelope{}, fmt.Errorf("qpay seal %s: %w", service, err)
	}
	m, err := Encrypt(k.HashID, nonce, msg)
	if err != nil {
		return Envelope{}, fmt.Errorf("qpay seal %s: %w", service, err)
	}
	return Envelope{Version: Version, ShopNo: k.ShopNo, APIService: service, Sign: sign, Nonce: nonce, Message: m}, nil
}

// Open decrypts an envelope with its own nonce and verifies its Sign over
// the decrypted message. It returns the inner JSON only when both succeed.
func (k Keys) Open(env Envelope) ([]byte, error) {
	if env.Nonce == "" {
		return nil, fmt.Errorf("qpay open %s: %w: no nonce", env.APIService, ErrBadMessage)
	}
	if env.Sign == "" {
		return nil, fmt.Errorf("qpay open %s: %w: no sign", env.APIService, ErrBadSign)
	}
	if env.ShopNo != "" && env.ShopNo != k.ShopNo {
		return nil, fmt.Errorf("qpay open %s: %w: shop %q is not ours", env.APIService, ErrBadMessage, env.ShopNo)
	}
	msg, err := Decrypt(k.HashID, env.Nonce, env.Message)
	if err != nil {
		return nil, fmt.Errorf("qpay open %s: %w", env.APIService, err)
	}
	if err := Verify(msg, env.Sign, env.Nonce, k.HashID); err != nil {
		return nil, fmt.Errorf("qpay open %s: %w", env.APIService, err)
	}
	return msg, nil
}

// OpenInto is Open followed by a JSON decode of the inner message into v.
func (k Keys) OpenInto(env Envelope, v any) error {
	msg, err := k.Open(env)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(msg, v); err != nil {
		return fmt.Errorf("qpay open %s: %w: %v", env.APIService, ErrBadMessage, err)
	}
	return nil
}
