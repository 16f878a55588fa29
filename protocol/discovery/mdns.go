package discovery

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// mDNS advertisement (PROTOCOL.md §3): service type, domain and TXT keys.
const (
	MDNSService = "_storebox._tcp"
	MDNSDomain  = "local."

	TXTStore = "store"
	TXTVer   = "ver"
	TXTMQTT  = "mqtt"
	TXTHTTP  = "http"

	// maxLabel is the longest DNS label; the instance name is one label.
	maxLabel = 63
	// maxTXTString is the longest string in a TXT record.
	maxTXTString = 255
)

// InstanceName is the mDNS instance name for a store name: the store name
// itself, cut at a character boundary to the 63 bytes a DNS label can hold,
// or "storebox" when the name is empty.
func InstanceName(storeName string) string {
	s := strings.TrimSpace(storeName)
	if s == "" {
		return "storebox"
	}
	if len(s) <= maxLabel {
		return s
	}
	cut := maxLabel
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// TXT returns the answer's mDNS TXT strings (raw, not DNS-escaped):
// store=<id>, ver=<version>, mqtt=<port>, http=<port>.
func (a Answer) TXT() ([]string, error) {
	txt := []string{
		TXTStore + "=" + a.StoreID,
		TXTVer + "=" + a.Version,
		TXTMQTT + "=" + strconv.Itoa(a.MQTTPort),
		TXTHTTP + "=" + strconv.Itoa(a.HTTPPort),
	}
	for _, t := range txt {
		if len(t) > maxTXTString {
			return nil, fmt.Errorf("txt %.20q...: %d bytes, over %d: %w", t, len(t), maxTXTString, ErrTooLarge)
		}
	}
	return txt, nil
}

// AnswerFromMDNS builds an Answer from a browsed mDNS service: its instance
// name, SRV port, one address and raw TXT strings. Unknown TXT keys are
// ignored; a missing store key or a malformed port is an error, since such
// an entry is not a storebox.
func AnswerFromMDNS(instance, host string, port int, txt []string) (Answer, error) {
	a := Answer{Action: ActionReturn, Name: instance, Host: host, Port: port}
	var haveStore bool
	for _, t := range txt {
		k, v, _ := strings.Cut(t, "=")
		switch k {
		case TXTStore:
			a.StoreID, haveStore = v, true
		case TXTVer:
			a.Version = v
		case TXTMQTT, TXTHTTP:
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 65535 {
				return Answer{}, fmt.Errorf("mdns txt %s=%q: not a port: %w", k, v, ErrInvalidField)
			}
			if k == TXTMQTT {
				a.MQTTPort = n
			} else {
				a.HTTPPort = n
			}
		}
	}
	if !haveStore {
		return Answer{}, fmt.Errorf("mdns txt: no %s= key: %w", TXTStore, ErrInvalidField)
	}
	if err := a.checkPorts(); err != nil {
		return Answer{}, fmt.Errorf("mdns: %w", err)
	}
	return a, nil
}
