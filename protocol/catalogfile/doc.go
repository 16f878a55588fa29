// Package catalogfile reads and writes the catalog files of PROTOCOL.md §6
// ("Catalog files"): CSV with a header row, and JSON Lines. It streams: Read
// hands one Row at a time to a callback, so a million-row file is imported in
// bounded memory (apart from the duplicate checks, about 30 MB per million
// goods). It knows nothing about the store; applying rows all-or-nothing is
// the importer's job.
//
// Decisions PROTOCOL.md §6 leaves open:
//
//   - Columns. gid, gname, price and unit are required; barcode, category,
//     stock, mac_ids and rfids are optional. Header names are matched
//     case-insensitively after trimming spaces; an unknown or repeated column
//     is an error. JSON field names match case-insensitively too (as
//     encoding/json does); an unknown field is an error. Rows whose cells are all empty (spreadsheet leftovers) are
//     skipped; so are blank lines in JSON Lines.
//   - Whitespace. Spaces around structured values (gid, barcode, price, unit,
//     stock, mac_ids, rfids) are trimmed; gname and category are kept as
//     written. Control characters are rejected in every text field.
//   - price is an integer in minor units (1250 for 12.50); a decimal point is
//     an error, never rounded. For unit kg it is the price per kilogram.
//     At most MaxAmount.
//   - unit is pcs or kg, case-insensitive, stored lower-case.
//   - stock is the on-hand quantity per warehouse: CSV "main:12|cold:3", JSON
//     {"main":12,"cold":3}. A bare number (CSV "12", JSON 12) means the
//     selling warehouse passed to Read. Quantities are non-negative integers:
//     pieces for pcs goods, grams for kg goods. An empty cell, a missing or
//     null field, or an empty object mean "the file says nothing about
//     stock" (Row.HasStock false); warehouses a row does not name are not
//     mentioned by the file. Warehouse names: no spaces, control characters,
//     ':' or '|', at most 64 bytes.
//   - barcode: digits only, at most 20 (EAN-13, EAN-8, UPC-A, GTIN-14 and
//     in-store codes). Check digits are not enforced; ValidEAN13 checks one.
//     Barcodes may repeat between goods.
//   - mac_ids name e-labels by their 48-bit MAC address, written canonically
//     as upper-case, colon-separated "A4:C1:38:00:00:01". Input may also be
//     lower-case, dash-separated, bare hex "A4C138000001", or an e-label
//     equipId "ESL_A4C138000001"; NormalizeMAC turns all of these into the
//     canonical form (use it wherever a label's mac_id is compared).
//   - rfids are EPC/TID tag ids in hex, an even number of 8 to 124 hex digits,
//     stored upper-case (NormalizeEPC).
//   - Within one file a gid, a mac_id and an rfid may each appear only once
//     (a label or tag bound to two goods is ambiguous); the error names the
//     line of the first occurrence.
//   - Limits: a row (CSV record or JSON line) is at most MaxRowBytes; gid at
//     most 64 bytes; gname at most 200 characters; category at most 100
//     characters; at most 64 mac_ids and 10000 rfids per goods.
//   - Errors are *RowError values: the line, and the column name with its
//     1-based field index (CSV) or the field name and/or 1-based byte offset
//     in the line (JSON Lines), e.g.
//     `line 17, column price (4): "12.5" is not an integer amount in minor units`.
//   - Writers emit the canonical form: CSV with all nine columns in PROTOCOL.md §6
//     order, stock as "WH:qty" pairs sorted by warehouse; JSON Lines with
//     category, stock, mac_ids and rfids omitted when empty. A writer applies
//     the reader's checks, so whatever it writes imports back unchanged.
//   - DetectFormat: a file whose first non-blank byte is '{' is JSON Lines;
//     otherwise the name's extension (.csv; .jsonl, .ndjson, .json) decides;
//     otherwise a first line naming the gid column is CSV.
package catalogfile
