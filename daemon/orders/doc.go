// Package orders owns orders, stock reservations and payments (SPEC §2
// "Orders and stock", §6 credits and payment provider).
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
// a time (internal/keyindex), so a commit writes the tail pages of append-only
// buckets rather than one scattered index leaf per terminal.
//
// States: pending → paid | cancelled | expired. Paid is final. News that
// contradicts a final state never reverts it: the order is flagged for
// review (Order.Review) and shows in NeedsReview. A payment that succeeds
// after the order expired or was cancelled makes it paid when its stock can
// still be taken; otherwise its status becomes needs_review (money in, goods
// not booked) for a person to settle.
//
// Payment methods:
//   - cash, card_offline: makePayment with the exact amount_total.
//   - credit: store credit upstream. getPayInfo authorizes the amount; a
//     granted hold pays the order at once (the hold is the guarantee) and
//     the capture follows in the background, retried until the cloud
//     answers. A cancelled or expired order's hold is released.
//   - qr, card, atm: the configured provider (QPay or the test provider).
//     qr and card create a QPay card order (the QR encodes its pay URL), atm
//     a virtual account. The provider's order number is oid + "-" + attempt,
//     written to disk before the first send, so a retry asks about the same
//     order and never creates a second charge. Outcomes come from polling
//     (capped backoff) and from a notify relayed by the cloud, which is only
//     a hint: the provider is always asked.
package orders
