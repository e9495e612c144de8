"""target-clevertap: a Singer target that loads user profiles and events into CleverTap.

The way a record travels, one module per step:
`messages` (Singer input) -> `sink` (per stream; checks records with `record_validation`) ->
`mapping` (with `standard_fields`, `values`, `preflight`) -> `delivery` (batches in worker
threads) -> `client` (HTTP, retries) -> `response` (CleverTap's answer per record) ->
`checkpoint` (safe STATE) and `rejects`.
"""
