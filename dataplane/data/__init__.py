"""Package data: reference CSVs (latency, bandwidth, pricing) and the demo topology."""
