// Package orders owns orders and their stock reservations (PROTOCOL.md §2.7 "Orders
// and stock"): the order state machine, the device actions getPayInfo,
// makePayment, getOrder and cancelOrder, expiry, and the orders' share of
// the store file (internal/orderdb). daemon/payments collects the money
// and hands each outcome back here; protocol/ordermsg holds the shapes.
//
// Everything that matters is on disk before anyone hears of it: an order,
// its reservation and its ledger events commit in one bbolt transaction
// before getPayInfo answers, and every later change of state (paid,
// cancelled, expired, needs review) moves stock, indexes and the outbox in
// one transaction too. Network calls to a provider or the cloud never run
// inside a transaction: the attempt (with the provider order number that
// makes a retry safe) is written first, the call is made, and its outcome is
// written after.
//
// Durability is paid for once per batch: concurrent getPayInfo calls share
// one transaction and fsync (internal/groupcommit), and idempotency keys
// are appended to a log and moved into their sorted index a few thousand at
// a time (internal/keyindex), so a commit writes the tail pages of
// append-only buckets rather than one scattered index leaf per terminal.
//
// States: pending → paid | cancelled | expired. Paid is final. News that
// contradicts a final state never reverts it: the order is flagged for
// review (Order.Reviews) and shows in NeedsReview. A payment that succeeds
// after the order expired or was cancelled makes it paid when its stock can
// still be taken; otherwise its status becomes needs_review (money in, goods
// not booked) for a person to settle.
package orders
