"""The outbound webhook engine: fan-out, dispatcher, signing, retries, breaker.

Modules: `models` (records), `matching` (which endpoint wants which event),
`schedule` (retry timing), `breaker` (circuit breaker and rate limit), `ssrf`
(target guard), `sender` (one signed HTTP attempt), `fanout` (outbox ->
deliveries), `dispatcher` (claim, send, record), `operations` (retry, replay),
`runner` (the `serve` extra and `stockwire worker`), `metrics`.
"""
