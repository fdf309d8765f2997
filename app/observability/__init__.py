"""What operators watch: Prometheus metrics, structured logs with request ids, health probes."""
