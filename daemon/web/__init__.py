"""The web page and the HTTP server it shares with the health probes and metrics."""
