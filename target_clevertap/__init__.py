"""target-clevertap: a Singer target that loads user profiles and events into CleverTap.

The way a record travels, one module per step, one way:
`messages` (Singer input, line numbers; `batch_files` for BATCH messages' files) -> `target`
(the record loop; owns the sinks; exit codes)
-> `sink` (per stream: checks records with `record_validation`, maps them with `mapping`, which uses
`standard_fields`, `field_mapping` (the `properties` setting and property operations), `charged`,
`subscription_categories`, `values` and `preflight`, and `device_tokens` and `subscriptions` for
those streams; pure) -> `pipeline` (the one door after
mapping: batches per stream and lane, the reader's window) -> `delivery` (worker pools per budget,
held by the `ordering` barrier; `lanes` name each kind of request; events an earlier run
delivered left out, by their `event_keys` in the `ledger`) -> `client` (HTTP, retries,
`limiter`) -> `response` (CleverTap's answer per record) -> `checkpoint` (safe STATE, after the
`ledger` recorded the accepted events), `rejects` (refused records) and `report` (counts and the
summary).

Beside the way: `config` (the settings' schema, checks and run-wide `Settings`), `config_sources`
(reading `--config` files and `TARGET_CLEVERTAP_*` variables), `plan` (per-stream
settings), `stopping` (SIGTERM/SIGINT as a flag), `text` (quoting values in messages), `jsonl`
(exact JSON lines), `replay` (re-sending a rejected-records file) and `sandbox` (the local
CleverTap stand-in, independent of all the above).
"""
